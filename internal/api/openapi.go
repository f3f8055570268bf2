package api

import _ "embed"

// OpenAPI is the OpenAPI 3.0.3 description of the agent API, served at
// GET /v1/openapi.json. openapi_test.go checks it against the Go types, so
// a field added to types.go must be added to the document too.
//
//go:embed openapi.json
var OpenAPI []byte
