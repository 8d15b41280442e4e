// Package domain holds what Ledgerline's aggregate packages (account, apikey, usage, billing,
// consent, privacy) share: rule errors, state sentinels, jurisdiction codes and small text checks.
//
// Everything under domain/ is pure: it imports only the standard library and google/uuid, never
// performs I/O, never reads a clock (time is always passed in) and never draws randomness except
// from a reader the caller passes. Personal data may appear in an event only inside its field
// named Personal (tagged json:"-"), which the codec seals per data subject; errors never carry
// submitted values, so they cannot leak personal data into logs or responses.
package domain
