package geo

import (
	"testing"
	"time"
)

func benchLocate(b *testing.B, l *Locator, ips []string) {
	for _, ip := range ips { // warm up: iploc inflates its IPv6 table on first use
		l.Locate(ip)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, ok := l.Locate(ips[i%len(ips)]); !ok {
			b.Fatal("not located")
		}
		i++
	}
}

var (
	benchIPv4 = []string{"8.8.8.8", "81.2.69.142", "133.1.2.3", "1.1.1.1", "200.160.2.3", "41.0.0.1"}
	benchIPv6 = []string{"2001:4860:4860::8888", "2a00:1450:4001::1", "2400:cb00::1"}
)

func BenchmarkLocateCentroidIPv4(b *testing.B) {
	l, _ := New("")
	benchLocate(b, l, benchIPv4)
}

func BenchmarkLocateCentroidIPv6(b *testing.B) {
	l, _ := New("")
	benchLocate(b, l, benchIPv6)
}

func BenchmarkLocateCity(b *testing.B) {
	l, err := New(writeCityDB(b))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	benchLocate(b, l, []string{"81.2.69.142", "133.1.2.3", "2001:4860:4860::8888"})
}

func BenchmarkLocateCityMiss(b *testing.B) {
	l, err := New(writeCityDB(b))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	benchLocate(b, l, []string{"8.8.8.8", "1.1.1.1"})
}

func BenchmarkLocateCentroidParallel(b *testing.B) {
	l, _ := New("")
	l.Locate("8.8.8.8")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Locate("8.8.8.8")
		}
	})
}

func BenchmarkImpossible(b *testing.B) {
	l, _ := New("")
	x, _ := l.Locate("8.8.8.8")
	y, _ := l.Locate("81.2.69.142")
	b.ReportAllocs()
	for b.Loop() {
		Impossible(x, y, time.Hour, 1000)
	}
}
