package web

// adminRoutes: SKELETON, filled by the work on this part of issue 4.
func (s *Server) adminRoutes() []route { return nil }
