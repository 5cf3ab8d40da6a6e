// Package loadmix is a realistic load mix for Portico, driven by wrk, for
// the fault tests of issue 15 (a node killed, PostgreSQL restarted, while
// customers use the portal) and for the per-node rates in docs/scaling.md.
//
// # The mix
//
// Four kinds of traffic run at once, each from its own wrk process with
// one connection per thread:
//
//   - sign-in (KindSignIn): POST /login with the password (303 to
//     /login/mfa, a pending session), POST /login/mfa with the account's
//     TOTP code of the current step (303 to /account, the full session),
//     GET /account with it (200). Each flow claims its own private client
//     address in X-Forwarded-For (the nodes trust 127.0.0.1 as a proxy),
//     in a /24 of its own, so that the per-address and per-network limits
//     are not what is measured and no country applies (session.Country is
//     empty for 10.0.0.0/8, so the zero-trust context check, which
//     compares the country and the user agent, never ends a session).
//   - signed-in pages (KindPages): GET /tickets, /account and
//     /tickets/{id}, round-robin over pre-made sessions.
//   - ticket replies (KindReplies): POST /tickets/{id}/reply with a token
//     unique to the run in the body. A 303 answer (saved) appends the token
//     to the thread's ack file: what clients were told succeeded.
//   - exports (KindExports), paced (one flow per thread every 2 s by
//     default): a fresh two-factor sign-in (the export is a sensitive
//     action that needs a re-authentication within the step-up window),
//     POST /account/data/export (200, a page with a single-use token),
//     POST /account/data/download (200, the zip), and the same token again
//     (410: the link works once).
//
// Every request claims the same browser (UserAgent): a session is bound to
// the user agent it began with (CP-6.3).
//
// The mix is closed-loop: each thread sends its next request when the
// answer to the last one has come, so its composition is set by how fast
// the server answers each kind, and the number of threads per kind
// (Options). Sign-ins are bounded by the TOTP codes: the server accepts a
// step once per account (CP-4.1), so each account signs in at most once
// per 30-second step, and a pool of N accounts allows at most N/30
// sign-ins per second (20 with the default 570 of the sign-in pool).
// Threads whose accounts have all signed in during the current step wait
// for the next one (counted as "waits"), sending an idle request (GET
// /healthz, counted as "filler") every 2 s meanwhile, so that no proxy or
// server closes their connection for idleness: wrk mishandles a connection
// closed during a delay (it sends two requests for one answer).
//
// # TOTP in wrk
//
// wrk's LuaJIT has no HMAC-SHA1, so the codes are computed in Go with the
// same library as the server (github.com/pquerna/otp), for every step the
// run can reach plus a margin, and written into the kind's Lua data file;
// the script takes the code of the step os.time() is in (client and server
// share the machine's clock). The accounts are split between the threads,
// so no two threads use one account, and no account is used twice in one
// step.
//
// # Why wrk
//
// The product's rule is a maintained load generator rather than a loop of
// our own; k6 is AGPL, which Portico does not take. wrk (Debian package
// wrk, scripted in LuaJIT) is already the tool of bench/ticket-list.sh.
// Go prepares the data (Seed, through the product's own identity,
// session and support services, so that rows, data keys and encrypted
// fields are real), starts wrk (Run) and checks the outcome against the
// database (CheckCommitted).
//
// # Running it by hand
//
// Against a node of your own on PostgreSQL (the test builds and starts
// one):
//
//	PORTICO_TEST_POSTGRES_URL=postgres://... go test ./internal/loadmix -run TestLoadMix -v
//
// Against any installation whose database this machine can reach, with
// the nodes' storage and policy flags (the seeding process opens the same
// database with the same master keyset):
//
//	go run ./bench/mix -url https://127.0.0.1:8443 -duration 30s -- \
//	    --database-url postgres://... --master-key-file /path/master.json --policy-file policy.toml
//
// The nodes must trust 127.0.0.1 (or the proxy) in --trusted-proxies for
// the sign-ins' addresses to count, and should run with a policy file that
// makes argon2 cheap, or sign-ins measure argon2 alone.
package loadmix
