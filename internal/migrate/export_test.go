package migrate

// ApplyFS exposes apply for tests that need a migration set of their own.
var ApplyFS = apply
