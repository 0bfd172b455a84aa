"""Who is asking and what they may do: the access policy (every endpoint declares its roles)."""
