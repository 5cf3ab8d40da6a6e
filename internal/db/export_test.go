package db

import "context"

// MigrateDownTo rolls the migrations back to version, for the tests of a
// migration's Down.
func (d *DB) MigrateDownTo(ctx context.Context, version int64) error {
	p, err := d.provider(ctx)
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, version)
	return err
}
