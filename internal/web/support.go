package web

// supportRoutes: SKELETON, filled by the work on this part of issue 4.
func (s *Server) supportRoutes() []route { return nil }
