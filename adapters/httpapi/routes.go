package httpapi

import (
	"net/http"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/projections"
)

// Tags group the routes in the OpenAPI document.
const (
	tagSystem    = "system"
	tagOperators = "operators"
	tagAccounts  = "accounts"
	tagKeys      = "keys"
	tagUsage     = "usage"
	tagBilling   = "billing"
	tagConsent   = "consent"
	tagPrivacy   = "privacy"
	tagAudit     = "audit"
)

var (
	qAfter  = param{"after", "integer", "read-your-writes: wait (up to 2 s) until the read model has applied this log position (also header X-Ledgerline-After)", false}
	qReason = param{"reason", "string", "staff only (admin, compliance): why the personal data is read; recorded as operator.personal_data_read", false}
	qCursor = param{"cursor", "integer", "the next value of the previous page", false}
	qLimit  = param{"limit", "integer", "page size, 1-1000 (default 100)", false}
)

// routeTable is every route the API serves. The OpenAPI document is checked
// against it (openapi_test.go), so a route added here must be documented.
func (s *Server) routeTable() []route {
	c := func(method, path, op, summary, tag string, roles []operator.Role, spec cmdSpec) route {
		return route{method: method, path: path, op: op, summary: summary, tag: tag, roles: roles, req: spec.cmd,
			resp: spec.result, status: orDefault(spec.status, http.StatusOK), write: true,
			h: s.commandHandler(method, path, spec)}
	}
	return []route{
		// system
		{method: "GET", path: "/healthz", op: "healthz", summary: "Liveness and store reachability", tag: tagSystem, resp: Health{}, h: s.healthz},
		{method: "GET", path: "/metrics", op: "metrics", summary: "Prometheus metrics (text exposition format)", tag: tagSystem, h: s.serveMetrics},
		{method: "GET", path: "/openapi.json", op: "openapi", summary: "This OpenAPI document", tag: tagSystem, h: s.serveOpenAPI},

		// operators
		{method: "GET", path: "/v1/me", op: "whoAmI", summary: "The calling token's id, role and account", tag: tagOperators, roles: rAny, resp: WhoAmI{}, h: s.whoAmI},
		{method: "POST", path: "/v1/tokens", op: "issueToken", summary: "Issue an operator token (the secret is shown once)", tag: tagOperators, roles: rAdmin, req: IssueTokenRequest{}, resp: IssuedTokenView{}, status: http.StatusCreated, write: true, h: s.issueToken},
		{method: "GET", path: "/v1/tokens", op: "listTokens", summary: "List operator tokens (never their secrets)", tag: tagOperators, roles: rAdmin, resp: TokenList{}, h: s.listTokens},
		{method: "POST", path: "/v1/tokens/{token_id}/revoke", op: "revokeToken", summary: "Revoke an operator token", tag: tagOperators, roles: rAdmin, resp: RevokedTokenView{}, write: true, h: s.revokeToken},

		// accounts
		c("POST", "/v1/accounts", "registerAccount", "Register an account (age 13+ confirmed); new-user credits for a new email hash", tagAccounts, rRegistrations,
			cmdSpec{cmd: commands.RegisterAccount{}, result: commands.RegisterAccountResult{}, status: http.StatusCreated}),
		{method: "GET", path: "/v1/accounts", op: "listAccounts", summary: "Page through accounts (public fields only)", tag: tagAccounts, roles: rAudit, resp: projections.AccountPage{},
			query: []param{{"status", "string", "active, suspended, closed or erased", false}, qCursor, qLimit, qAfter}, h: s.listAccounts},
		{method: "GET", path: "/v1/accounts/{account_id}", op: "getAccount", summary: "An account's profile; email and name for the customer and for staff giving a reason (recorded); auditors get public fields", tag: tagAccounts, roles: rOwnAudit, resp: projections.AccountView{},
			query: []param{qReason, qAfter}, personal: true, h: s.getAccount},
		c("PUT", "/v1/accounts/{account_id}/email", "changeEmail", "Change the account's email", tagAccounts, rOwnAdmin,
			cmdSpec{cmd: commands.ChangeEmail{}, result: commands.AccountResult{}}),
		c("POST", "/v1/accounts/{account_id}/rectify", "rectifyProfile", "Correct profile fields (rectification)", tagAccounts, rOwnStaff,
			cmdSpec{cmd: commands.RectifyProfile{}, result: commands.AccountResult{}}),
		c("POST", "/v1/accounts/{account_id}/suspend", "suspendAccount", "Suspend an account", tagAccounts, rAdmin,
			cmdSpec{cmd: commands.SuspendAccount{}, result: commands.AccountResult{}}),
		c("POST", "/v1/accounts/{account_id}/reinstate", "reinstateAccount", "End a suspension", tagAccounts, rAdmin,
			cmdSpec{cmd: commands.ReinstateAccount{}, result: commands.AccountResult{}}),
		c("POST", "/v1/accounts/{account_id}/close", "closeAccount", "Close an account for good", tagAccounts, rOwnAdmin,
			cmdSpec{cmd: commands.CloseAccount{}, result: commands.AccountResult{}}),

		// keys
		c("POST", "/v1/accounts/{account_id}/keys", "issueKey", "Issue an API key (the secret is shown once)", tagKeys, rOwnAdmin,
			cmdSpec{cmd: commands.IssueAPIKey{}, result: commands.IssueAPIKeyResult{}, status: http.StatusCreated}),
		{method: "GET", path: "/v1/accounts/{account_id}/keys", op: "listKeys", summary: "List an account's keys (names for the customer and for staff giving a reason)", tag: tagKeys, roles: rOwnAudit, resp: KeyList{},
			query: []param{qReason, qAfter}, personal: true, h: s.listKeys},
		{method: "GET", path: "/v1/keys/{key_id}", op: "getKey", summary: "One key's public state", tag: tagKeys, roles: rOwnAudit, resp: projections.KeyView{}, query: []param{qAfter}, h: s.getKey},
		c("POST", "/v1/keys/{key_id}/rotate", "rotateKey", "Rotate a key's secret (the new secret is shown once)", tagKeys, rOwnAdmin,
			cmdSpec{cmd: commands.RotateAPIKey{}, result: commands.APIKeyResult{}}),
		c("POST", "/v1/keys/{key_id}/revoke", "revokeKey", "Revoke a key", tagKeys, rOwnAdmin,
			cmdSpec{cmd: commands.RevokeAPIKey{}, result: commands.APIKeyResult{}}),
		{method: "POST", path: "/v1/keys/verify", op: "verifyKey", summary: "Gateway hot path: secret → key, account and scopes", tag: tagKeys, roles: rGateway, req: VerifyKeyRequest{}, resp: VerifyKeyResponse{}, h: s.verifyKey},

		// usage
		c("POST", "/v1/usage", "recordUsage", "Record one gateway request (idempotent by key and request id)", tagUsage, rGateway,
			cmdSpec{cmd: commands.RecordUsage{}, result: commands.RecordUsageResult{}}),
		{method: "POST", path: "/v1/usage/batch", op: "recordUsageBatch", summary: "Record up to 5,000 usage records with per-record results", tag: tagUsage, roles: rGateway, limit: MaxBatchBody,
			req: UsageBatchRequest{}, resp: commands.RecordUsageBatchResult{}, write: true, h: s.recordUsageBatch},
		{method: "GET", path: "/v1/accounts/{account_id}/usage", op: "getUsage", summary: "Usage totals, optionally grouped by day, model, provider or key", tag: tagUsage, roles: rOwnAudit, resp: UsageReport{},
			query: []param{{"from", "date", "first UTC day (YYYY-MM-DD), inclusive", false}, {"to", "date", "last UTC day, inclusive", false},
				{"key_id", "uuid", "only this key", false}, {"group_by", "string", "comma-separated: day, model, provider, key", false}, qAfter}, h: s.getUsage},

		// billing
		c("POST", "/v1/accounts/{account_id}/payments", "recordPayment", "Record a payment confirmed by the processor", tagBilling, rGateway,
			cmdSpec{cmd: commands.RecordPayment{}, result: commands.BillingResult{}, status: http.StatusCreated}),
		c("POST", "/v1/accounts/{account_id}/refunds", "refundPayment", "Record a refund", tagBilling, rGateway,
			cmdSpec{cmd: commands.RefundPayment{}, result: commands.BillingResult{}, status: http.StatusCreated}),
		c("POST", "/v1/accounts/{account_id}/disputes", "openDispute", "Record an opened dispute (places a legal hold)", tagBilling, rGateway,
			cmdSpec{cmd: commands.OpenDispute{}, result: commands.BillingResult{}, status: http.StatusCreated}),
		c("POST", "/v1/accounts/{account_id}/disputes/{dispute_id}/resolve", "resolveDispute", "Record a dispute's outcome", tagBilling, rGateway,
			cmdSpec{cmd: commands.ResolveDispute{}, result: commands.BillingResult{}}),
		{method: "GET", path: "/v1/accounts/{account_id}/disputes", op: "listDisputes", summary: "An account's disputes", tag: tagBilling, roles: rOwnAudit, resp: DisputeList{}, query: []param{qAfter}, h: s.listDisputes},
		{method: "GET", path: "/v1/accounts/{account_id}/balance", op: "getBalance", summary: "An account's balance", tag: tagBilling, roles: rOwnAuditGw, resp: projections.BalanceView{}, query: []param{qAfter}, h: s.getBalance},
		{method: "GET", path: "/v1/accounts/{account_id}/transactions", op: "listTransactions", summary: "An account's transactions in log order", tag: tagBilling, roles: rOwnAudit, resp: projections.TxPage{},
			query: []param{qCursor, qLimit, qAfter}, h: s.listTransactions},

		// consent
		{method: "GET", path: "/v1/accounts/{account_id}/consents", op: "getConsent", summary: "Current consent per purpose, or as of a past moment", tag: tagConsent, roles: rOwnAudit, resp: projections.ConsentState{},
			query: []param{{"as_of", "date-time", "answer for this moment (RFC 3339) instead of now", false}, qAfter}, h: s.getConsent},
		{method: "GET", path: "/v1/accounts/{account_id}/consents/history", op: "getConsentHistory", summary: "Every consent receipt", tag: tagConsent, roles: rOwnAudit, resp: ConsentHistory{}, query: []param{qAfter}, h: s.getConsentHistory},
		c("POST", "/v1/accounts/{account_id}/consents/{purpose}/grant", "giveConsent", "Grant consent for a purpose (receipt recorded)", tagConsent, rOwnStaff,
			cmdSpec{cmd: commands.GiveConsent{}, result: commands.ConsentResult{}}),
		c("POST", "/v1/accounts/{account_id}/consents/{purpose}/withdraw", "withdrawConsent", "Withdraw consent for a purpose (receipt recorded)", tagConsent, rOwnStaff,
			cmdSpec{cmd: commands.WithdrawConsent{}, result: commands.ConsentResult{}}),
		c("POST", "/v1/accounts/{account_id}/policy-acceptances", "acceptPolicy", "Record acceptance of a policy version", tagConsent, rOwnStaff,
			cmdSpec{cmd: commands.AcceptPolicy{}, result: commands.ConsentResult{}}),
		c("POST", "/v1/policies", "publishPolicy", "Publish a privacy policy version", tagConsent, rAdmin,
			cmdSpec{cmd: commands.PublishPolicy{}, result: commands.PublishPolicyResult{}, status: http.StatusCreated}),

		// privacy
		c("POST", "/v1/privacy/requests", "receivePrivacyRequest", "Record a data-subject request (deadlines by law)", tagPrivacy, rOwnStaff,
			cmdSpec{cmd: commands.ReceivePrivacyRequest{}, result: commands.PrivacyRequestResult{}, own: "subject_id", status: http.StatusCreated}),
		c("POST", "/v1/privacy/requests/{request_id}/acknowledge", "acknowledgeRequest", "Acknowledge a request to the requester", tagPrivacy, rStaff,
			cmdSpec{cmd: commands.AcknowledgeRequest{}, result: commands.PrivacyRequestResult{}}),
		c("POST", "/v1/privacy/requests/{request_id}/extend", "extendRequest", "Extend a request's deadline once, with notice", tagPrivacy, rStaff,
			cmdSpec{cmd: commands.ExtendRequest{}, result: commands.PrivacyRequestResult{}}),
		c("POST", "/v1/privacy/requests/{request_id}/reject", "rejectRequest", "Refuse a request", tagPrivacy, rStaff,
			cmdSpec{cmd: commands.RejectRequest{}, result: commands.PrivacyRequestResult{}}),

		c("POST", "/v1/privacy/requests/{request_id}/erase", "executeErasure", "Carry out an erasure request: shred the subject's key (deferred while legal holds apply)", tagPrivacy, rStaff,
			cmdSpec{cmd: commands.ExecuteErasure{}, result: commands.ExecuteErasureResult{}}),
		{method: "GET", path: "/v1/privacy/requests", op: "listPrivacyRequests", summary: "The request queue by due date (overdue=true: only overdue)", tag: tagPrivacy, roles: rAudit, resp: RequestList{},
			query: []param{{"subject_id", "uuid", "only this subject", false}, {"kind", "string", "access, rectification or erasure", false},
				{"open", "boolean", "only open requests", false}, {"overdue", "boolean", "only open requests past their deadline", false}, qAfter}, h: s.listRequests},
		{method: "GET", path: "/v1/privacy/requests/{request_id}", op: "getPrivacyRequest", summary: "One request (for an erasure its progress: shredded, read models caught up, verified, certificate); its free-text details for the subject and for staff giving a reason", tag: tagPrivacy, roles: rOwnAudit, resp: PrivacyRequestDetail{},
			query: []param{qReason, qAfter}, personal: true, h: s.getRequest},
		c("POST", "/v1/privacy/holds", "placeLegalHold", "Place a legal hold on categories of a subject's data", tagPrivacy, rStaff,
			cmdSpec{cmd: commands.PlaceLegalHold{}, result: commands.HoldResult{}, own: "-", status: http.StatusCreated}),
		c("POST", "/v1/privacy/holds/{hold_id}/release", "releaseLegalHold", "Release a legal hold (a deferred erasure then runs)", tagPrivacy, rStaff,
			cmdSpec{cmd: commands.ReleaseLegalHold{}, result: commands.HoldResult{}}),
		{method: "GET", path: "/v1/accounts/{account_id}/holds", op: "listHolds", summary: "A subject's legal holds (active=true: unreleased only)", tag: tagPrivacy, roles: rAudit, resp: HoldList{},
			query: []param{{"active", "boolean", "only active holds", false}, qAfter}, h: s.listHolds},
		{method: "POST", path: "/v1/accounts/{account_id}/export", op: "exportAccount", summary: "Access export: every personal and public fact about the person, decrypted (staff reads are recorded); answers the person's open access requests (privacy.export_produced with the export's SHA-256, request completed)", tag: tagPrivacy, roles: rOwnStaff, resp: Export{},
			query: []param{qReason, {"request_id", "uuid", "the access request this export answers (default: every open access request of the person)", false}, qAfter}, personal: true, h: s.exportAccount},
		{method: "GET", path: "/v1/certificates/public-key", op: "getCertificatePublicKey", summary: "The Ed25519 public key that verifies deletion certificates (text: ledgerline-ed25519:<base64>)", tag: tagPrivacy, h: s.publicKey},
		{method: "GET", path: "/v1/certificates/{certificate_id}", op: "getCertificate", summary: "A signed proof-of-deletion certificate exactly as stored (verify offline with `ledgerline certificate verify`); ?format=html for a readable page", tag: tagPrivacy, roles: rOwnAudit, resp: CertificateFile{},
			query: []param{{"format", "string", "json (default: the signed file) or html (a readable copy)", false}, qAfter}, h: s.getCertificate},

		// audit
		{method: "GET", path: "/v1/audit/events", op: "auditEvents", summary: "The log in order; sealed parts as base64, never decrypted", tag: tagAudit, roles: rAudit, resp: AuditPage{},
			query: []param{{"from", "integer", "first position (default 1)", false}, qLimit}, h: s.auditEvents},
		{method: "GET", path: "/v1/audit/streams/{stream}", op: "auditStream", summary: "One stream's events in version order", tag: tagAudit, roles: rAudit, resp: AuditPage{},
			query: []param{{"from", "integer", "first version (default 1)", false}, qLimit}, h: s.auditStream},
		{method: "GET", path: "/v1/audit/head", op: "auditHead", summary: "The last position and its chain hash", tag: tagAudit, roles: rAudit, resp: HeadView{}, h: s.auditHead},
		{method: "GET", path: "/v1/audit/verify", op: "auditVerify", summary: "Verify the whole hash chain (no decryption)", tag: tagAudit, roles: rAudit, resp: VerifyView{}, h: s.auditVerify},
		{method: "GET", path: "/v1/audit/checkpoints", op: "auditCheckpoints", summary: "Signed chain checkpoints recorded in the log (audit.chain_checkpoint_signed), in signing order", tag: tagAudit, roles: rAudit, resp: CheckpointList{},
			query: []param{{"from", "integer", "first version of the audit-checkpoints stream (default 1)", false}, qLimit}, h: s.auditCheckpoints},
		{method: "GET", path: "/v1/audit/accounts/{account_id}", op: "auditAccountAsOf", summary: "An account's public state as of a past moment (status, balance and transactions, consent, usage totals), replayed from the log; nothing is decrypted", tag: tagAudit, roles: rAudit, resp: AccountAsOf{},
			query: []param{{"as_of", "string", "the moment: an RFC 3339 time (events recorded up to it) or a log position (events up to it)", true}, qCursor, qLimit}, h: s.auditAccountAsOf},
	}
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
