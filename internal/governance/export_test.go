package governance

// SetVersion replaces the running version the significant-change pass
// reads (buildinfo), for tests.
func (s *Service) SetVersion(v string) { s.version = func() string { return v } }
