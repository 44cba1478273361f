"""The fleet: models, apps, what their compose files publish, and the checks on their names.

Layout (that of existing generated-app repositories, read unchanged):

    <fleet>/fleet.toml                                  optional, see `config`
    <fleet>/models/<Model>/app<N>/docker-compose.yml    (or docker-compose.yaml, compose.y[a]ml)
    <fleet>/models/<Model>/app<N>/.env                  optional, used for ${VAR} interpolation

Modules: `registry` (Fleet: loading and lookups), `names` (model, app and service names),
`config` (fleet.toml), `composefile` (an app's compose file, with `interpolation` for ${VAR}
and .env, `yaml12` for compose's YAML, `ports` for its port entries), `clashes` (ports or
container names used twice), `overrides` (the other ports and names a clashing app runs on,
and its compose override file), `dockerfiles` (the base images the fleet builds from).
"""

from genfleet_common.fleet.names import MAX_APP_NUMBER, validate_app_number, validate_model_name
from genfleet_common.fleet.registry import Fleet

__all__ = [
    "MAX_APP_NUMBER",
    "Fleet",
    "validate_app_number",
    "validate_model_name",
]
