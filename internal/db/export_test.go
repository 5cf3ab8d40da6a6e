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

// GooseVersions is goose's own reading of the applied and latest versions,
// for comparing SchemaVersion with it.
func GooseVersions(ctx context.Context, d *DB) (current, latest int64, err error) {
	p, err := d.provider(ctx)
	if err != nil {
		return 0, 0, err
	}
	return p.GetVersions(ctx)
}
