package postgres

// SubjectStringForTest exposes subjectString to the external tests.
var SubjectStringForTest = subjectString
