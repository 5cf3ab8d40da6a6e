package identity

// AddSigningIn pretends n more sign-ins are in progress (tests of the
// tarpit).
func (s *Service) AddSigningIn(n int64) { s.signingIn.Add(n) }

// TarpitDelay exposes tarpitDelay to the tests.
var TarpitDelay = tarpitDelay
