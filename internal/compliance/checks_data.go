package compliance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/retention"
)

// dataChecks are the evidence of data protection: encryption at rest,
// retention, data-subject requests and the record of processing.
func dataChecks(src Sources) []Check {
	return []Check{{
		Name:    "crypto.fields-encrypted",
		Clauses: []string{"CP-5.1", "MTL-2.1.3", "MTL-1.1"},
		Description: "Reads every encrypted column of the record of processing (the *_enc columns) and checks that each stored value " +
			"has the shape of a ciphertext of the keyring (its key prefix and at least a nonce and a tag), and decrypts the e-mail address of a sample " +
			"of the newest accounts under each account's own key; reports the master key in use and what it protects. " +
			"Fails on any value stored in clear or a sample that does not decrypt; warns while a key rotation is unfinished.",
		Run: func(ctx context.Context, now time.Time) (Result, error) { return checkFieldsEncrypted(ctx, src) },
	}, {
		Name:    "retention.purge",
		Clauses: []string{"CP-5.2"},
		Description: "Looks at the last finished retention purge and counts what it should have deleted and is still stored, per category. " +
			"Fails when the purge never ran, failed, or is more than two runs late, or when anything past its retention remains; " +
			"warns when the next run is late.",
		Run: func(ctx context.Context, now time.Time) (Result, error) { return checkRetention(ctx, src, now) },
	}, {
		Name:    "privacy.requests",
		Clauses: []string{"CP-11.1", "MTL-7.1"},
		Description: "Lists the open data-subject requests (exports, erasures) against their legal deadline (privacy.request_deadline). " +
			"Fails when one is past it; warns when one is within the last tenth of it, or an erasure is waiting past its grace period.",
		Run: func(ctx context.Context, now time.Time) (Result, error) { return checkPrivacyRequests(ctx, src, now) },
	}, {
		Name:    "privacy.erasures-shredded",
		Clauses: []string{"CP-5.2", "CP-11.1"},
		Description: "For every erasure carried out, checks that the account's data key is a destroyed tombstone (crypto-shredded) and that no account row is left; " +
			"and that every destroyed key is in the erasure ledger next to the keyset, which a restore of an older backup re-applies. " +
			"Fails on an erasure marked done whose key survives or whose account remains, or a destroyed key missing from the ledger.",
		Run: func(ctx context.Context, now time.Time) (Result, error) { return checkErasuresShredded(ctx, src) },
	}, {
		Name:    "privacy.notice",
		Clauses: []string{"MTL-2.1.2"},
		Description: "Reports the privacy notice in force and how many active customers have acknowledged it (the others see a banner until they do); " +
			"fails when an account or acknowledgement names a notice version that was never published, or a consent is recorded " +
			"for a purpose the notice does not declare.",
		Run: func(ctx context.Context, now time.Time) (Result, error) { return checkPrivacyNotice(ctx, src) },
	}, {
		Name:    "privacy.record-of-processing",
		Clauses: []string{"MTL-2.1.1"},
		Description: "Compares the running database's columns with the record of processing (privacy.Inventory and the columns declared free of personal data) " +
			"and checks that every category has a purpose, a lawful basis and a retention from the profile in force. " +
			"Fails on a column the record does not classify or a category without one of those.",
		Run: func(ctx context.Context, now time.Time) (Result, error) { return checkRecordOfProcessing(ctx, src) },
	}}
}

// ciphertextPrefix is the first byte of every value the keyring encrypts
// (Tink's key-prefix version byte), followed by the 4-byte key ID.
const ciphertextPrefix = 0x01

// minCiphertext is the shortest value the keyring can produce: the
// 5-byte key prefix, AES-GCM's 12-byte nonce and 16-byte tag.
const minCiphertext = 5 + 12 + 16

// decryptSample is how many of the newest accounts' e-mail addresses the
// check decrypts under their own key.
const decryptSample = 20

// encryptedColumns are the "table.column"s of the record of processing
// that hold ciphertext, sorted.
func encryptedColumns(src Sources) []string {
	var out []string
	for _, c := range privacy.Inventory(src.Profile) {
		for _, col := range c.Columns {
			if strings.HasSuffix(col, "_enc") && !slices.Contains(out, col) {
				out = append(out, col)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Enforces MTL-7.2 (evidence of CP-5.1, MTL-2.1.3, MTL-1.1): personal
// fields at rest are ciphertext under each subject's own key.
func checkFieldsEncrypted(ctx context.Context, src Sources) (Result, error) {
	if src.DB == nil || src.Keys == nil {
		return Result{}, errUnavailable("the database or the keyring")
	}
	st, err := src.Keys.Status(ctx)
	if err != nil {
		return Result{}, err
	}
	cols := encryptedColumns(src)
	values, clear := 0, 0
	var clearCols []string
	for _, col := range cols {
		table, column, _ := strings.Cut(col, ".")
		// Counted in the database: no value leaves it, however many.
		var n, bad int
		err := src.DB.QueryRowContext(ctx,
			`SELECT COUNT(*), COALESCE(SUM(CASE WHEN length(`+column+`) < $1 OR substr(`+column+`, 1, 1) <> $2 THEN 1 ELSE 0 END), 0)
			 FROM `+table+` WHERE `+column+` IS NOT NULL`, minCiphertext, []byte{ciphertextPrefix}).Scan(&n, &bad)
		if err != nil {
			return Result{}, fmt.Errorf("read %s: %w", col, err)
		}
		values += n
		if bad > 0 {
			clear += bad
			clearCols = append(clearCols, fmt.Sprintf("%s (%d)", col, bad))
		}
	}
	sampled, undecryptable, err := decryptEmails(ctx, src)
	if err != nil {
		return Result{}, err
	}
	figs := []Figure{
		{"encrypted columns", strconv.Itoa(len(cols))},
		{"values checked", strconv.Itoa(values)},
		{"values not ciphertext", strconv.Itoa(clear)},
		{"accounts decrypted under their own key", fmt.Sprintf("%d of %d sampled", sampled-undecryptable, sampled)},
		{"primary master key ID", strconv.FormatUint(uint64(st.PrimaryKeyID), 10)},
		{"master keys", strconv.Itoa(st.MasterKeys)},
		{"live subject keys", strconv.Itoa(st.LiveSubjectKeys)},
		{"destroyed subject keys", strconv.Itoa(st.DestroyedSubjectKeys)},
		{"keys not under the primary", strconv.Itoa(st.NotUnderPrimary)},
	}
	if !st.LastRotation.IsZero() {
		figs = append(figs, Figure{"last key rotation", st.LastRotation.UTC().Format(time.DateOnly)})
	}
	switch {
	case clear > 0:
		return Result{Status: Fail, Summary: fmt.Sprintf("stored values not ciphertext: %d (%s)", clear, strings.Join(clearCols, ", ")), Figures: figs}, nil
	case undecryptable > 0:
		return Result{Status: Fail, Summary: fmt.Sprintf("sampled accounts whose e-mail address does not decrypt under their own key: %d of %d", undecryptable, sampled), Figures: figs}, nil
	case st.RotationPending || st.NotUnderPrimary > 0:
		return Result{Status: Warn, Summary: fmt.Sprintf("every personal field is ciphertext (%d values), but a key rotation is unfinished: %d keys not yet under master key %d (`portico keys rotate` finishes it)",
			values, st.NotUnderPrimary, st.PrimaryKeyID), Figures: figs}, nil
	}
	return Result{Status: Pass, Summary: fmt.Sprintf("every personal field is ciphertext (%d values in %d columns); %d of %d sampled accounts decrypt under their own key; master key %d",
		values, len(cols), sampled, sampled, st.PrimaryKeyID), Figures: figs}, nil
}

// decryptEmails decrypts the e-mail addresses of the newest accounts under
// their own keys, keeping nothing of them, and counts those that fail (an
// erased account's destroyed key is not a failure).
func decryptEmails(ctx context.Context, src Sources) (sampled, failed int, err error) {
	rows, err := src.DB.QueryContext(ctx, `SELECT id, email_enc FROM accounts ORDER BY created_at DESC, id LIMIT $1`, decryptSample)
	if err != nil {
		return 0, 0, err
	}
	type row struct {
		id  string
		enc []byte
	}
	var sample []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.enc); err != nil {
			rows.Close()
			return 0, 0, err
		}
		sample = append(sample, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	for _, r := range sample {
		_, err := src.Keys.Decrypt(ctx, src.DB, r.id, crypto.Field{Table: "accounts", Column: "email_enc", Row: r.id}, r.enc)
		switch {
		case errors.Is(err, crypto.ErrSubjectKeyDestroyed):
			continue
		case err != nil:
			failed++
		}
		sampled++
	}
	return sampled, failed, nil
}

// Enforces MTL-7.2 (evidence of CP-5.2): the purge runs on schedule and
// nothing it should have deleted is still stored.
func checkRetention(ctx context.Context, src Sources, now time.Time) (Result, error) {
	if src.DB == nil || src.Retention == nil {
		return Result{}, errUnavailable("the retention purge")
	}
	var (
		id       string
		started  time.Time
		finished sql.NullTime
		runErr   sql.NullString
	)
	err := src.DB.QueryRowContext(ctx,
		`SELECT id, started_at, finished_at, error FROM retention_runs
		 WHERE dry_run = $1 AND finished_at IS NOT NULL ORDER BY started_at DESC, id LIMIT 1`, false).
		Scan(&id, &started, &finished, &runErr)
	if errors.Is(err, sql.ErrNoRows) {
		return Result{Status: Fail, Summary: "the retention purge has never run"}, nil
	}
	if err != nil {
		return Result{}, err
	}
	started = db.Time(started)
	age := now.Sub(started)
	figs := []Figure{
		{"last purge", started.Format(time.RFC3339)},
		{"last purge run", id},
		{"hours since", strconv.FormatFloat(age.Hours(), 'f', 1, 64)},
		{"schedule", retention.Interval.String()},
	}
	if runErr.String != "" {
		return Result{Status: Fail, Summary: fmt.Sprintf("the last retention purge (%s) failed", started.Format(time.RFC3339)), Figures: figs}, nil
	}
	overdue, err := src.Retention.Overdue(ctx, started)
	if err != nil {
		return Result{}, err
	}
	total := 0
	var kept []string
	for _, cat := range retention.Categories() {
		if n := overdue[cat]; n > 0 {
			total += n
			kept = append(kept, fmt.Sprintf("%s %d", cat, n))
			figs = append(figs, Figure{"past retention: " + cat, strconv.Itoa(n)})
		}
	}
	figs = append(figs, Figure{"past retention, still stored", strconv.Itoa(total)})
	switch {
	case total > 0:
		return Result{Status: Fail, Summary: fmt.Sprintf("records past their retention still stored after the purge of %s: %d (%s)",
			started.Format(time.RFC3339), total, strings.Join(kept, ", ")), Figures: figs}, nil
	case age > 2*retention.Interval:
		return Result{Status: Fail, Summary: fmt.Sprintf("the retention purge last ran at %s, more than two runs ago", started.Format(time.RFC3339)), Figures: figs}, nil
	case age > retention.Interval+retention.Interval/10:
		return Result{Status: Warn, Summary: fmt.Sprintf("nothing past its retention after the purge of %s, but the next run is late", started.Format(time.RFC3339)), Figures: figs}, nil
	}
	return Result{Status: Pass, Summary: fmt.Sprintf("the last purge ran at %s and nothing past its retention is stored", started.Format(time.RFC3339)), Figures: figs}, nil
}

// Enforces MTL-7.2 (evidence of CP-11.1, MTL-7.1): no data-subject request
// is open past its legal deadline.
func checkPrivacyRequests(ctx context.Context, src Sources, now time.Time) (Result, error) {
	if src.DB == nil || src.Privacy == nil {
		return Result{}, errUnavailable("the data-subject requests")
	}
	rows, err := src.DB.QueryContext(ctx,
		`SELECT id, kind, status, created_at, due_at, scheduled_for, token_expires_at FROM privacy_requests
		 WHERE status IN ($1, $2) ORDER BY due_at, id`, privacy.StatusPending, privacy.StatusReady)
	if err != nil {
		return Result{}, err
	}
	var open []privacy.Request
	for rows.Next() {
		var r privacy.Request
		var sched, exp sql.NullTime
		if err := rows.Scan(&r.ID, &r.Kind, &r.Status, &r.CreatedAt, &r.DueAt, &sched, &exp); err != nil {
			rows.Close()
			return Result{}, err
		}
		r.ScheduledFor, r.LinkExpires = sched.Time, exp.Time
		open = append(open, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Result{}, err
	}
	deadline := src.Profile.Privacy.RequestDeadline.Duration
	grace := src.Profile.Privacy.ErasureGrace.Duration
	var overdue, near, lateErasures, unused, waiting int
	var oldest time.Time
	for _, r := range open {
		// An export is answered when its link is given, at once; a link
		// that expired unused is not a request still waiting.
		if r.Kind == privacy.KindExport && r.Status == privacy.StatusReady && !r.LinkExpires.IsZero() && !now.Before(r.LinkExpires) {
			unused++
			continue
		}
		waiting++
		switch {
		case r.Overdue(now):
			overdue++
			if oldest.IsZero() || r.DueAt.Before(oldest) {
				oldest = r.DueAt
			}
		case r.DueAt.Sub(now) < deadline/10:
			near++
		}
		if r.Kind == privacy.KindErasure && r.Status == privacy.StatusPending && !r.ScheduledFor.IsZero() && now.Sub(r.ScheduledFor) > grace/10 {
			lateErasures++
		}
	}
	var done, doneLate int
	if err := src.DB.QueryRowContext(ctx,
		`SELECT COUNT(*), COALESCE(SUM(CASE WHEN completed_at > due_at THEN 1 ELSE 0 END), 0)
		 FROM privacy_requests WHERE status = $1 AND completed_at >= $2`, privacy.StatusDone, now.Add(-deadline)).Scan(&done, &doneLate); err != nil {
		return Result{}, err
	}
	figs := []Figure{
		{"open requests", strconv.Itoa(waiting)},
		{"past their legal deadline", strconv.Itoa(overdue)},
		{"due within a tenth of the deadline", strconv.Itoa(near)},
		{"erasures waiting past their grace", strconv.Itoa(lateErasures)},
		{"exports whose link expired unused", strconv.Itoa(unused)},
		{"done in the last deadline period", strconv.Itoa(done)},
		{"of them done after their deadline", strconv.Itoa(doneLate)},
		{"legal deadline", src.Profile.Privacy.RequestDeadline.Human()},
	}
	switch {
	case overdue > 0:
		figs = append(figs, Figure{"oldest missed deadline", oldest.UTC().Format(time.DateOnly)})
		return Result{Status: Fail, Summary: fmt.Sprintf("data-subject requests past their legal deadline: %d (oldest due %s)", overdue, oldest.UTC().Format(time.DateOnly)), Figures: figs}, nil
	case near > 0 || lateErasures > 0:
		return Result{Status: Warn, Summary: fmt.Sprintf("no data-subject request is past its deadline, but some are near it (%d) or are erasures waiting past their grace (%d)", near, lateErasures), Figures: figs}, nil
	}
	return Result{Status: Pass, Summary: fmt.Sprintf("no data-subject request is past its legal deadline (%d open)", waiting), Figures: figs}, nil
}

// Enforces MTL-7.2 (evidence of CP-5.2, CP-11.1): erased data is
// crypto-shredded, and the shredding reaches backups through the ledger.
func checkErasuresShredded(ctx context.Context, src Sources) (Result, error) {
	if src.DB == nil || src.Keys == nil {
		return Result{}, errUnavailable("the database or the keyring")
	}
	var done, keyLive, accountLeft int
	err := src.DB.QueryRowContext(ctx,
		`SELECT COUNT(*),
		        COALESCE(SUM(CASE WHEN NOT EXISTS (SELECT 1 FROM subject_keys k WHERE k.subject_id = r.account_id
		                                           AND k.destroyed_at IS NOT NULL AND k.wrapped_key IS NULL) THEN 1 ELSE 0 END), 0),
		        COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM accounts a WHERE a.id = r.account_id) THEN 1 ELSE 0 END), 0)
		 FROM privacy_requests r WHERE r.kind = $1 AND r.status = $2`, privacy.KindErasure, privacy.StatusDone).
		Scan(&done, &keyLive, &accountLeft)
	if err != nil {
		return Result{}, err
	}
	ledger, err := src.Keys.ErasedSubjects()
	if err != nil {
		return Result{}, err
	}
	inLedger := make(map[string]bool, len(ledger))
	for _, id := range ledger {
		inLedger[id] = true
	}
	rows, err := src.DB.QueryContext(ctx, `SELECT subject_id FROM subject_keys WHERE destroyed_at IS NOT NULL`)
	if err != nil {
		return Result{}, err
	}
	tombstones, unledgered := 0, 0
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return Result{}, err
		}
		tombstones++
		if !inLedger[id] {
			unledgered++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Result{}, err
	}
	figs := []Figure{
		{"erasures carried out", strconv.Itoa(done)},
		{"of them with a live key", strconv.Itoa(keyLive)},
		{"of them with the account left", strconv.Itoa(accountLeft)},
		{"destroyed keys", strconv.Itoa(tombstones)},
		{"destroyed keys missing from the ledger", strconv.Itoa(unledgered)},
		{"ledger entries", strconv.Itoa(len(ledger))},
	}
	var problems []string
	if keyLive > 0 {
		problems = append(problems, fmt.Sprintf("erasures marked done whose data key was not destroyed: %d", keyLive))
	}
	if accountLeft > 0 {
		problems = append(problems, fmt.Sprintf("erasures marked done whose account is still stored: %d", accountLeft))
	}
	if unledgered > 0 {
		problems = append(problems, fmt.Sprintf("destroyed keys missing from the erasure ledger (a restore would bring them back): %d", unledgered))
	}
	if len(problems) > 0 {
		return Result{Status: Fail, Summary: strings.Join(problems, "; "), Figures: figs}, nil
	}
	return Result{Status: Pass, Summary: fmt.Sprintf("every erasure carried out (%d) is crypto-shredded, and every destroyed key (%d) is in the ledger a restore re-applies", done, tombstones), Figures: figs}, nil
}

// Enforces MTL-7.2 (evidence of MTL-2.1.2): every customer's accepted
// notice is a published version, and consents are only for declared
// purposes.
func checkPrivacyNotice(ctx context.Context, src Sources) (Result, error) {
	if src.DB == nil || src.Privacy == nil {
		return Result{}, errUnavailable("the privacy notices")
	}
	cur, err := src.Privacy.CurrentNotice(ctx)
	if err != nil {
		return Result{}, err
	}
	notices, err := src.Privacy.Notices(ctx)
	if err != nil {
		return Result{}, err
	}
	known := map[string]bool{privacy.BuiltinNoticeVersion: true}
	for _, n := range notices {
		known[n.Version] = true
	}
	var problems []string
	versions, err := countsByKey(ctx, src.DB, `SELECT privacy_version, COUNT(*) FROM accounts WHERE role = 'customer' AND status = 'active' GROUP BY privacy_version`)
	if err != nil {
		return Result{}, err
	}
	active, current, none, unknown := 0, versions[cur.Version], versions[""], 0
	for v, n := range versions {
		active += n
		if v != "" && !known[v] {
			unknown += n
		}
	}
	if unknown > 0 {
		problems = append(problems, fmt.Sprintf("active customers who accepted a notice version never published: %d", unknown))
	}
	acks, err := countsByKey(ctx, src.DB, `SELECT version, COUNT(*) FROM notice_acks GROUP BY version`)
	if err != nil {
		return Result{}, err
	}
	for v, n := range acks {
		if !known[v] {
			problems = append(problems, fmt.Sprintf("acknowledgements of the unpublished version %q: %d", v, n))
		}
	}
	purposes, err := countsByKey(ctx, src.DB, `SELECT purpose, COUNT(*) FROM consents GROUP BY purpose`)
	if err != nil {
		return Result{}, err
	}
	declared := map[string]bool{}
	for _, p := range privacy.Purposes() {
		declared[p.ID] = true
	}
	consents := 0
	for p, n := range purposes {
		consents += n
		if !declared[p] {
			problems = append(problems, fmt.Sprintf("consents for the undeclared purpose %q: %d", p, n))
		}
	}
	sort.Strings(problems)
	published := "built in"
	if !cur.PublishedAt.IsZero() {
		published = cur.PublishedAt.UTC().Format(time.DateOnly)
	}
	figs := []Figure{
		{"notice in force", cur.Version},
		{"published", published},
		{"versions published", strconv.Itoa(len(notices))},
		{"active customers", strconv.Itoa(active)},
		{"acknowledged the notice in force", strconv.Itoa(current)},
		{"never acknowledged a notice", strconv.Itoa(none)},
		{"consent records", strconv.Itoa(consents)},
	}
	if len(problems) > 0 {
		return Result{Status: Fail, Summary: "the privacy notice records do not hold: " + strings.Join(problems, "; "), Figures: figs}, nil
	}
	return Result{Status: Pass, Summary: fmt.Sprintf("notice %s in force, acknowledged by %d of %d active customers (the others see it until they do); every consent is for a declared purpose",
		cur.Version, current, active), Figures: figs}, nil
}

// countsByKey runs q (a key and a count per group) and returns the counts.
func countsByKey(ctx context.Context, d *db.DB, q string) (map[string]int, error) {
	rows, err := d.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k sql.NullString
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k.String] += n
	}
	return out, rows.Err()
}

// Enforces MTL-7.2 (evidence of MTL-2.1.1): the running database holds no
// column outside the record of processing, and each category has its
// purpose, lawful basis and retention.
func checkRecordOfProcessing(ctx context.Context, src Sources) (Result, error) {
	if src.DB == nil {
		return Result{}, errUnavailable("the database")
	}
	cls, err := privacy.Classification(src.Profile)
	if err != nil {
		return Result{}, err
	}
	q := `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
	      WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'goose_db_version'`
	if src.DB.Dialect() == db.Postgres {
		q = `SELECT table_name, column_name FROM information_schema.columns
		     WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'`
	}
	rows, err := src.DB.QueryContext(ctx, q)
	if err != nil {
		return Result{}, err
	}
	var columns, personal int
	var unclassified []string
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			rows.Close()
			return Result{}, err
		}
		columns++
		what, ok := cls[table+"."+col]
		switch {
		case !ok:
			unclassified = append(unclassified, table+"."+col)
		case !strings.HasPrefix(what, "not personal"):
			personal++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Result{}, err
	}
	var incomplete []string
	inv := privacy.Inventory(src.Profile)
	for _, c := range inv {
		if strings.TrimSpace(c.Purpose) == "" || strings.TrimSpace(c.Basis) == "" || strings.TrimSpace(c.Retention) == "" {
			incomplete = append(incomplete, c.Name)
		}
	}
	sort.Strings(unclassified)
	figs := []Figure{
		{"categories", strconv.Itoa(len(inv))},
		{"columns in the database", strconv.Itoa(columns)},
		{"columns of personal data", strconv.Itoa(personal)},
		{"columns not in the record", strconv.Itoa(len(unclassified))},
		{"categories without purpose, basis or retention", strconv.Itoa(len(incomplete))},
	}
	var problems []string
	if len(unclassified) > 0 {
		problems = append(problems, fmt.Sprintf("columns not in the record of processing: %d (%s)", len(unclassified), strings.Join(unclassified, ", ")))
	}
	if len(incomplete) > 0 {
		problems = append(problems, "categories without a purpose, lawful basis or retention: "+strings.Join(incomplete, ", "))
	}
	if len(problems) > 0 {
		return Result{Status: Fail, Summary: strings.Join(problems, "; "), Figures: figs}, nil
	}
	return Result{Status: Pass, Summary: fmt.Sprintf("every column of the database (%d) is in the record of processing; its %d categories each have a purpose, lawful basis and retention",
		columns, len(inv)), Figures: figs}, nil
}
