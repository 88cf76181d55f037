"""Who may do what: roles, the actions that need a permission, the audit log, formula-safe exports."""
