"""Communities (clubs, organizations): membership and roles, shared by every surface."""
