package privacy

// SetBeforeSweep sets the hook an erasure runs between its commit and its sweep.
func SetBeforeSweep(s *Service, f func()) { s.beforeSweep = f }
