"""Pure planners: (facts, desired state) -> Plan."""
