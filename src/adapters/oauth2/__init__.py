"""The OAuth 2.0 authorization code flow that protocols on OAuth 2.0 build on."""
