package state

import "database/sql"

// DB is the state's database, for tests that inspect or damage it; other
// packages read the state through AttachTo's views.
func (s *Store) DB() *sql.DB { return s.db }

// Migrations and ApplicationID let tests build a state of an older schema.
var Migrations = migrations

const ApplicationID = applicationID
