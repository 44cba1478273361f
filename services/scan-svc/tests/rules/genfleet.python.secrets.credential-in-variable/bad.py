DB_PASSWORD = "tr0ub4dor&3-horse"
