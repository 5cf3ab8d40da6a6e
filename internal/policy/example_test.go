package policy_test

import (
	"os"

	"github.com/portico/portico/internal/policy"
)

// `portico policy show` prints the effective profile like this; the output
// is itself a valid override file.
func ExampleProfile_WriteTOML() {
	p, err := policy.Load(policy.Default, "")
	if err != nil {
		panic(err)
	}
	if err := p.WriteTOML(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// # Portico policy profile "customer-portal": every effective value.
	// # Usable as the policy override file; comments name the clauses that set each value.
	//
	// name = "customer-portal"
	//
	// [mfa]
	// mode = "required"   # CP-4.1 MTL-3.1.2
	// recovery_codes = 10 # MTL-3.1.2
	//
	// [password]
	// min_length = 12          # CP-4.3 MTL-3.1.1
	// max_length = 128         # CP-4.3 MTL-3.1.1
	// min_strength = 3         # CP-4.3 MTL-3.1.1
	// history = 5              # MTL-3.1.1
	// expiry_days = 90         # CP-4.3
	// expiry_warning_days = 14 # CP-4.3
	// required_classes = 0     # CP-4.3
	//
	// [password.argon2]
	// memory_kib = 19456 # CP-5.1 MTL-3.1.1
	// iterations = 2     # CP-5.1 MTL-3.1.1
	// parallelism = 1    # CP-5.1 MTL-3.1.1
	//
	// [session]
	// idle_timeout = "30m"     # CP-6.3
	// absolute_timeout = "12h" # CP-6.3 CP-4.1
	// step_up_window = "5m"    # MTL-3.2.2 CP-6.3
	//
	// [lockout]
	// threshold = 10            # CP-8.2
	// window = "15m"            # CP-8.2
	// lock_duration = "15m"     # CP-8.2
	// backoff_base = 2          # CP-8.2
	// max_lock_duration = "24h" # CP-8.2
	//
	// [rate_limit]
	// window = "15m"          # CP-8.2
	// login_per_ip = 50       # CP-8.2
	// login_per_network = 200 # CP-8.2
	// signup_per_ip = 10      # CP-8.2
	// reset_per_ip = 10       # CP-8.2
	// mfa_per_ip = 50         # CP-4.1 CP-8.2
	//
	// [access]
	// reveal_grant = "15m"           # MTL-3.2.2 MTL-3.2.1
	// api_token_max_lifetime = "90d" # CP-6.3
	// blocked_networks = []          # CP-6.3
	//
	// [retention]
	// sign_in_history = "395d"         # CP-5.2 CP-8.2; evidence: at least 180d
	// closed_tickets = "1095d"         # CP-5.2
	// unverified_signups = "7d"        # CP-5.2 MTL-2.1.2
	// inactive_accounts = "1095d"      # CP-5.2 MTL-2.1.2
	// inactive_account_warning = "30d" # CP-5.2 MTL-2.1.2
	// security_reports = "1095d"       # CP-5.2 CP-7.3; evidence: at least 365d
	// notices = "1095d"                # CP-5.2 CP-9.1 CP-9.2; evidence: at least 365d
	// audit_events = "730d"            # CP-5.2 CP-5.3 MTL-7.2; evidence: at least 365d
	//
	// [incident]
	// customer_notification = "24h"  # CP-7.1 MTL-5.1.2
	// regulator_notification = "72h" # MTL-5.1.1
	// exercise_interval = "365d"     # MTL-5.2.2
	// regimes = ["gdpr"]             # MTL-5.1.1 MTL-7.1
	//
	// [privacy]
	// request_deadline = "28d" # CP-11.1 MTL-7.1
	// erasure_grace = "7d"     # CP-11.1 CP-5.2
	//
	// [governance]
	// policy_review_interval = "365d" # CP-11.2 MTL-5.2.1
	// training_interval = "365d"      # MTL-8.1 CP-12
	// training_grace = "14d"          # MTL-8.1 CP-12
	// vendor_review_interval = "365d" # CP-10.1 MTL-6.1
	// vendor_check_interval = "24h"   # CP-10.2
	// contract_expiry_warning = "60d" # MTL-6.2 CP-10.2
	// assessment_interval = "365d"    # CP-6.2 MTL-4.3.1
	// evidence_interval = "1h"        # MTL-7.2
	//
	// [governance.remediation]
	// critical = "15d" # MTL-4.3.2 MTL-4.1.2
	// high = "30d"     # MTL-4.3.2 MTL-4.1.2
	// medium = "90d"   # MTL-4.3.2 MTL-4.1.2
	// low = "180d"     # MTL-4.3.2 MTL-4.1.2
	//
	// [detection]
	// throttle_for = "1h"           # CP-8.2
	// stuffing_failure_percent = 80 # CP-8.2
	// spraying_max_per_account = 2  # CP-8.2
	//
	// [detection.risk]
	// medium = 30                 # CP-8.2
	// high = 60                   # CP-8.2
	// low_action = "allow"        # CP-8.2
	// medium_action = "challenge" # CP-8.2
	// high_action = "block"       # CP-8.2
	// unusual_hour_history = 20   # CP-8.2
	// after_reset = "24h"         # CP-8.2
	//
	// [detection.brute_force]
	// threshold = 10 # CP-8.2
	// window = "15m" # CP-8.2
	// responses = [] # CP-8.2 CP-3.2
	//
	// [detection.credential_stuffing]
	// threshold = 20           # CP-8.2
	// window = "10m"           # CP-8.2
	// responses = ["throttle"] # CP-8.2 CP-3.2
	//
	// [detection.password_spraying]
	// threshold = 30           # CP-8.2
	// window = "24h"           # CP-8.2
	// responses = ["throttle"] # CP-8.2 CP-3.2
	//
	// [detection.distributed_attack]
	// threshold = 5             # CP-8.2
	// window = "1h"             # CP-8.2
	// responses = ["challenge"] # CP-8.2 CP-3.2
	//
	// [detection.impossible_travel]
	// threshold = 1000 # CP-8.2
	// window = "24h"   # CP-8.2
	// responses = []   # CP-8.2 CP-3.2
	//
	// [detection.session_hijack]
	// threshold = 1  # CP-8.2
	// window = "1h"  # CP-8.2
	// responses = [] # CP-8.2 CP-3.2
	//
	// [detection.mfa_guessing]
	// threshold = 5                         # CP-8.2
	// window = "15m"                        # CP-8.2
	// responses = ["force_password_change"] # CP-8.2 CP-3.2
	//
	// [detection.recovery_new_country]
	// threshold = 1                # CP-8.2
	// window = "1h"                # CP-8.2
	// responses = ["end_sessions"] # CP-8.2 CP-3.2
	//
	// [detection.mass_signup]
	// threshold = 20           # CP-8.2
	// window = "1h"            # CP-8.2
	// responses = ["throttle"] # CP-8.2 CP-3.2
	//
	// [detection.insider_reveal]
	// threshold = 10 # CP-8.2
	// window = "1h"  # CP-8.2
	// responses = [] # CP-8.2 CP-3.2
	//
	// [detection.audit_export]
	// threshold = 10000 # CP-8.2
	// window = "24h"    # CP-8.2
	// responses = []    # CP-8.2 CP-3.2
	//
	// [detection.staff_odd_hour]
	// threshold = 50 # CP-8.2
	// window = "90d" # CP-8.2
	// responses = [] # CP-8.2 CP-3.2
	//
	// [detection.token_new_network]
	// threshold = 1  # CP-8.2
	// window = "90d" # CP-8.2
	// responses = [] # CP-8.2 CP-3.2
	//
	// [detection.customer_report]
	// threshold = 1  # CP-8.2
	// window = "24h" # CP-8.2
	// responses = [] # CP-8.2 CP-3.2
	//
	// [detection.incident_overdue]
	// threshold = 1  # CP-8.2
	// window = "24h" # CP-8.2
	// responses = [] # CP-8.2 CP-3.2
	//
	// [detection.governance_overdue]
	// threshold = 1  # CP-8.2
	// window = "24h" # CP-8.2
	// responses = [] # CP-8.2 CP-3.2
	//
	// [detection.vendor_degraded]
	// threshold = 1  # CP-8.2
	// window = "24h" # CP-8.2
	// responses = [] # CP-8.2 CP-3.2
	//
	// [detection.compliance_failing]
	// threshold = 1  # CP-8.2
	// window = "24h" # CP-8.2
	// responses = [] # CP-8.2 CP-3.2
}
