package clustertest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// haproxyConfig is the balancer: TLS in front (the certificate made by
// balancerCert), HTTPS to each node without verifying the nodes'
// self-signed certificates, a health check of /readyz every 500 ms that
// takes a node out after two failures and back after one success,
// round-robin per request with no stickiness, the client's address added
// to X-Forwarded-For, and the serving node named in X-Portico-Node. The
// use-server rules let a test pin a request to a node (PinHeader); they
// are ignored for a node that is down.
const haproxyConfig = `global
    maxconn 256
    nbthread 1

defaults
    mode http
    option forwardfor
    option redispatch
    retries 2
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 5s
    timeout http-keep-alive 10s
    timeout check 2s

frontend portico
    bind 127.0.0.1:%d ssl crt %s alpn h2,http/1.1
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter 500ms fall 2 rise 1 ssl verify none
`

// startHAProxy writes the balancer's certificate and configuration,
// starts haproxy in the foreground and waits until it accepts
// connections.
func (c *Cluster) startHAProxy(bin string, port int) error {
	pemFile := filepath.Join(c.dir, "haproxy.pem")
	pool, err := balancerCert(pemFile)
	if err != nil {
		return err
	}
	c.caPool = pool
	// Written with fmt, not a template package: the values are the
	// test's own (ports, a file name, node names).
	var cfg bytes.Buffer
	fmt.Fprintf(&cfg, haproxyConfig, port, pemFile)
	for _, n := range c.nodes {
		fmt.Fprintf(&cfg, "    use-server %s if { req.hdr(%s) -m str %s }\n", n.Name, PinHeader, n.Name)
	}
	fmt.Fprintf(&cfg, "    http-response set-header %s %%[srv_name]\n", NodeHeader)
	for _, n := range c.nodes {
		fmt.Fprintf(&cfg, "    server %s %s\n", n.Name, n.addr)
	}
	cfgFile := filepath.Join(c.dir, "haproxy.cfg")
	if err := os.WriteFile(cfgFile, cfg.Bytes(), 0o600); err != nil {
		return err
	}
	c.haproxyLog = filepath.Join(c.dir, "haproxy.log")
	logf, err := os.OpenFile(c.haproxyLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	// -db: stay in the foreground, so the test owns the process.
	cmd := exec.Command(bin, "-db", "-f", cfgFile)
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := startProcess(cmd, logf)
	if err != nil {
		return err
	}
	c.haproxy = p
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("haproxy exited: %v\n%s", p.err, tail(c.haproxyLog, 20))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("haproxy does not listen on %s: %v\n%s", addr, err, tail(c.haproxyLog, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitRouted waits until the balancer sends requests to node name (its
// health checks passed), failing t after 20 seconds.
func (c *Cluster) WaitRouted(t testing.TB, name string) {
	t.Helper()
	c.waitRouting(t, name, true)
}

// WaitUnrouted waits until the balancer no longer sends requests to node
// name (its health checks failed), failing t after 20 seconds.
func (c *Cluster) WaitUnrouted(t testing.TB, name string) {
	t.Helper()
	c.waitRouting(t, name, false)
}

func (c *Cluster) waitRouting(t testing.TB, name string, up bool) {
	t.Helper()
	b := c.probe()
	defer b.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		// A request pinned to the node reaches it only while the
		// balancer counts it up.
		r, err := b.try("GET", name, "/healthz", nil)
		if err == nil && (r.Node == name) == up {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("balancer: %s not %s after 20s (last answer from %q, error %v)", name, map[bool]string{true: "routed to", false: "taken out"}[up], r.Node, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// balancerCert makes a self-signed certificate for 127.0.0.1 and
// localhost, writes it with its key in one PEM file (as HAProxy wants
// them) and returns a pool that trusts it.
func balancerCert(path string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "clustertest balancer"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&out, &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, nil
}
