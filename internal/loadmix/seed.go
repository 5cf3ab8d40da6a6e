package loadmix

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/support"
)

// Target is a Portico installation as its nodes see it: the same database,
// master keyset and policy profile, opened by this process to seed it and
// to check it afterwards through the product's own services.
type Target struct {
	Storage  *app.Storage
	Identity *identity.Service
	Support  *support.Service
	closeID  func() error
}

// Open opens the installation that `portico serve` runs with args: pass
// the nodes' storage and policy flags (--database-url, --data-dir,
// --master-key-file, --policy, --policy-file; PORTICO_* variables count
// too). The database must already be migrated and the keyset made: start
// a node first.
func Open(ctx context.Context, args []string) (*Target, error) {
	cfg, err := config.NewLoader("loadmix", "", config.Storage|config.Policy, io.Discard).Load(args, nil)
	if err != nil {
		return nil, err
	}
	logger := app.NewLogger(io.Discard, "text", "error")
	st, err := app.OpenStorage(ctx, cfg, app.Existing, logger)
	if err != nil {
		return nil, err
	}
	ids, closeID, err := app.NewIdentity(st, cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	sup, err := support.New(support.Deps{DB: st.DB, Keys: st.Keyring, Audit: st.Audit, Profile: st.Profile, Identity: ids})
	if err != nil {
		closeID()
		st.Close()
		return nil, err
	}
	return &Target{Storage: st, Identity: ids, Support: sup, closeID: closeID}, nil
}

// Close releases the database and the services.
func (t *Target) Close() error {
	return errors.Join(t.closeID(), t.Storage.Close())
}

// SeedOptions size the population.
type SeedOptions struct {
	// Customers is how many customers to create (default 600), each with
	// a password, an authenticator app (TOTP) and one open ticket.
	Customers int
	// PageSessions and ReplySessions are how many of them get a signed-in
	// session for the page and the reply traffic (default 50 each, on
	// different customers, so that the tickets the pages show do not grow
	// with the replies).
	PageSessions, ReplySessions int
	// Exporters is how many customers sign in only for exports (default
	// 30), apart from the sign-in pool.
	Exporters int
	// Workers seed in parallel (default 8).
	Workers int
}

func (o *SeedOptions) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Customers, 600)
	def(&o.PageSessions, 50)
	def(&o.ReplySessions, 50)
	def(&o.Exporters, 30)
	def(&o.Workers, 8)
}

// Customer is a seeded customer.
type Customer struct {
	ID       string
	Email    string
	Password string
	TicketID string
	// FirstStep is the first TOTP step a sign-in may use: the server
	// accepts each step once per account, and seeding used the ones
	// before it.
	FirstStep int64
	secret    string // the authenticator app's key (base32)
}

// Code returns the customer's TOTP code of step, as the app would show it.
func (c Customer) Code(step int64) (string, error) {
	return totp.GenerateCodeCustom(c.secret, time.Unix(step*totpPeriod, 0),
		totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// Session is a signed-in session (both factors) of a customer.
type Session struct {
	AccountID string
	TicketID  string
	Token     string // the session cookie's value
}

// Population is what Seed made.
type Population struct {
	// RunID prefixes the customers' addresses, and each run's ID.
	RunID string
	// UserAgent is the one browser every request of the mix claims: a
	// session is bound to the user agent it began with (CP-6.3).
	UserAgent string
	Customers []Customer // all of them
	SignIn    []Customer // the sign-in pool
	Exporters []Customer // the export pool
	Pages     []Session
	Replies   []Session
	// Took is how long seeding took.
	Took time.Duration
}

// The test customers' password, the same for all: strong enough for every
// built-in profile, and in no breach list.
const password = "velvet-harbour-quietly-92-lanterns"

// UserAgent is the mix's browser (a current Firefox on Linux).
const UserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"

const totpPeriod = 30

// Seed creates the population through the product's services, so that its
// rows, data keys and encrypted fields are what sign-up would make: for
// each customer identity.CreateAccount, an authenticator app enrolled
// (StartTOTP, then ConfirmTOTP with a code from its key) and a ticket
// opened with support.Open; the session customers then sign in with
// identity.Login and VerifySecondFactor, as the web handlers do.
func (t *Target) Seed(ctx context.Context, o SeedOptions) (*Population, error) {
	o.defaults()
	if o.PageSessions+o.ReplySessions+o.Exporters > o.Customers {
		return nil, fmt.Errorf("loadmix: %d customers cannot hold %d page sessions, %d reply sessions and %d exporters",
			o.Customers, o.PageSessions, o.ReplySessions, o.Exporters)
	}
	start := time.Now()
	pop := &Population{RunID: "lm" + strings.ToLower(rand.Text()[:8]), UserAgent: UserAgent,
		Customers: make([]Customer, o.Customers)}
	sessions := make([]Session, o.PageSessions+o.ReplySessions)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	jobs := make(chan int)
	for range o.Workers {
		wg.Go(func() {
			for i := range jobs {
				c, err := t.seedCustomer(ctx, pop.RunID, i)
				if err == nil && i < len(sessions) {
					sessions[i], err = t.signIn(ctx, &c, i, pop.UserAgent)
				}
				if err != nil {
					once.Do(func() { first = fmt.Errorf("loadmix: seed customer %d: %w", i, err); cancel() })
					continue
				}
				pop.Customers[i] = c
			}
		})
	}
	for i := range o.Customers {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	pop.Pages, pop.Replies = sessions[:o.PageSessions], sessions[o.PageSessions:]
	n := o.Customers - o.Exporters
	pop.SignIn, pop.Exporters = pop.Customers[:n], pop.Customers[n:]
	pop.Took = time.Since(start)
	return pop, nil
}

// seedCustomer makes customer i with its authenticator app and ticket.
func (t *Target) seedCustomer(ctx context.Context, runID string, i int) (Customer, error) {
	c := Customer{Email: fmt.Sprintf("%s-%05d@loadmix.example.com", runID, i), Password: password}
	a, err := t.Identity.CreateAccount(ctx, identity.NewAccount{Email: c.Email, Role: access.RoleCustomer, Password: password})
	if err != nil {
		return c, err
	}
	c.ID = a.ID
	if err := t.Identity.StartTOTP(ctx, a.ID); err != nil {
		return c, err
	}
	e, ok, err := t.Identity.PendingTOTP(ctx, a.ID)
	if err != nil {
		return c, err
	}
	if !ok {
		return c, errors.New("no pending authenticator after StartTOTP")
	}
	c.secret = strings.ReplaceAll(e.Secret, " ", "")
	// Confirmed with the code of the step before now (the server allows
	// one step either side), so that the current step is still free for
	// a sign-in. At a step's edge the code may fall out of the window:
	// then again with the new step.
	for try := 0; ; try++ {
		step := time.Now().Unix()/totpPeriod - 1
		code, err := c.Code(step)
		if err != nil {
			return c, err
		}
		_, err = t.Identity.ConfirmTOTP(ctx, a.ID, code)
		if err == nil {
			c.FirstStep = step + 1
			break
		}
		if apperr.CodeOf(err) != apperr.Invalid || try == 2 {
			return c, err
		}
	}
	p := access.Principal{AccountID: a.ID, Role: access.RoleCustomer}
	tk, err := t.Support.Open(ctx, p, "Load mix ticket "+fmt.Sprint(i), "Opened by the load mix.", nil)
	if err != nil {
		return c, err
	}
	c.TicketID = tk.ID
	return c, nil
}

// signIn signs customer c in with both factors through the identity
// service, from a private address of its own (no country; the per-address
// limits are not reached), and returns the full session.
func (t *Target) signIn(ctx context.Context, c *Customer, i int, ua string) (Session, error) {
	ip := fmt.Sprintf("10.254.%d.%d", i/250%256, i%250+1)
	res, err := t.Identity.Login(ctx, identity.Credentials{Email: c.Email, Password: c.Password, IP: ip, UserAgent: ua})
	if err != nil {
		return Session{}, err
	}
	if res.Next != identity.StepSecondFactor {
		return Session{}, fmt.Errorf("sign-in: next step %q, want %q", res.Next, identity.StepSecondFactor)
	}
	for try := 0; ; try++ {
		step := max(time.Now().Unix()/totpPeriod, c.FirstStep)
		code, err := c.Code(step)
		if err != nil {
			return Session{}, err
		}
		full, err := t.Identity.VerifySecondFactor(ctx, res.Session, code, ip, ua)
		if err == nil {
			if full.Next != identity.StepDone {
				return Session{}, fmt.Errorf("second factor: next step %q", full.Next)
			}
			c.FirstStep = step + 1
			return Session{AccountID: c.ID, TicketID: c.TicketID, Token: full.Token}, nil
		}
		if apperr.CodeOf(err) != apperr.Unauthorized || try == 2 {
			return Session{}, err
		}
	}
}
