package web

// auditorRoutes: SKELETON, filled by the work on this part of issue 4.
func (s *Server) auditorRoutes() []route { return nil }
