package privacy

// SetBeforeSweep sets the hook an erasure runs between its commit and its sweep.
func SetBeforeSweep(s *Service, f func()) { s.beforeSweep = f }

// SetBeforeExportBuild sets the hook a preference-page export runs between committing its
// request and building its document.
func SetBeforeExportBuild(s *Service, f func()) { s.beforeExportBuild = f }
