"""From a formula and a panel to an outcome vector and a design, with every excluded row counted."""
