package web

// apiRoutes: SKELETON, filled by the work on this part of issue 4.
func (s *Server) apiRoutes() []route { return nil }
