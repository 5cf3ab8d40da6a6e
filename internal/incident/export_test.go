package incident

import "time"

// ExerciseIntervalOf is the profile's incident.exercise_interval, for the
// tests.
func ExerciseIntervalOf(s *Service) time.Duration {
	return s.profile.Incident.ExerciseInterval.Duration
}
