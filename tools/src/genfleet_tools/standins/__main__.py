"""`python -m genfleet_tools.standins [FLEET_ROOT] [--allow-substitutes] [--rebuild]`: see the
package's docstring."""

from genfleet_tools.standins.builder import main

raise SystemExit(main())
