"""REST API: controllers, the response envelope and parameter validation."""
