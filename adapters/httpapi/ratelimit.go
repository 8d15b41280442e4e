package httpapi

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ledgerline/ledgerline/domain/operator"
)

// Failed-authentication limiting.
//
// Operator token secrets carry 256 random bits, so guessing one is hopeless;
// the limiter exists to cap what a client presenting many wrong secrets
// (a guesser, credential stuffing with leaked or revoked tokens) can cost and
// learn. Each source IP has a token bucket of AuthFailureBurst that refills at
// AuthFailuresPerMinute. A request whose bearer secret does not authenticate
// takes one token; when the bucket is empty the answer is 429 with
// Retry-After instead of 401.
//
// Only new wrong secrets are charged: a client repeating the same stale
// secret (a misconfigured deployment retrying) keeps getting 401 without
// draining its bucket, because repeating a secret guesses nothing. A request
// without a bearer token is not charged either. Requests that authenticate
// are never limited, so a legitimate client sharing an IP with a guesser is
// unaffected.
const (
	AuthFailuresPerMinute = 20
	AuthFailureBurst      = 20
	authRecentFailures    = 8    // wrong secrets remembered per IP (repeats are free)
	authLimiterMaxIPs     = 4096 // buckets kept; full buckets are dropped first
)

// authLimiter is the per-IP token bucket of failed authentications. Safe for
// concurrent use.
type authLimiter struct {
	now   func() time.Time
	rate  float64 // tokens per second
	burst float64

	mu      sync.Mutex
	buckets map[string]*authBucket
}

type authBucket struct {
	tokens float64
	last   time.Time
	recent [authRecentFailures]string // hashes of recent wrong secrets
	next   int
}

func newAuthLimiter(now func() time.Time) *authLimiter {
	return &authLimiter{now: now, rate: AuthFailuresPerMinute / 60.0, burst: AuthFailureBurst, buckets: map[string]*authBucket{}}
}

// fail charges ip for a wrong secret and reports whether the request may
// still be answered 401 (true) or must be refused with 429, with the time
// until a token is available.
func (l *authLimiter) fail(ip, secret string) (ok bool, retryAfter time.Duration) {
	hash := operator.HashSecret(secret)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[ip]
	if b == nil {
		if len(l.buckets) >= authLimiterMaxIPs {
			l.evict(now)
		}
		b = &authBucket{tokens: l.burst, last: now}
		l.buckets[ip] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	for _, h := range b.recent {
		if h == hash {
			return true, 0 // a repeat guesses nothing
		}
	}
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	b.recent[b.next] = hash
	b.next = (b.next + 1) % authRecentFailures
	return true, 0
}

// evict drops the buckets that have refilled completely (they hold nothing
// a new bucket would not), or every bucket when none has.
func (l *authLimiter) evict(now time.Time) {
	for ip, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, ip)
		}
	}
	if len(l.buckets) >= authLimiterMaxIPs {
		clear(l.buckets)
	}
}

// sourceIP is the peer address of the connection (X-Forwarded-For is not
// trusted: anyone can send it).
func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authFailed answers a request whose bearer secret did not authenticate:
// 401, or 429 with Retry-After once the source IP has spent its budget.
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, secret string) {
	if ok, wait := s.authLimit.fail(sourceIP(r), secret); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		s.writeProblem(w, r, problem(http.StatusTooManyRequests, "too-many-auth-failures", "too many failed authentications",
			"this address presented too many wrong tokens; retry after the time in Retry-After"))
		return
	}
	s.writeProblem(w, r, errUnauthenticated())
}
