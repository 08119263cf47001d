"""Checks conf/protogate.schema.json against config files and the decoder.

For every config file given:

1. the file validates against the schema (JSON Schema 2020-12, the
   `jsonschema` package: what editors' YAML plugins use);
2. every mapping the schema describes as closed (`properties`,
   `additionalProperties: false`) gets an unknown key `zz_not_a_key`, and
   `protogate check` on the changed file must report that key at that path,
   listing exactly the keys the schema lists: the schema and the decoder
   know the same keys.

Prints what disagrees and exits 1; prints a summary and exits 0 otherwise.

Usage: schema_check.py PROTOGATE SCHEMA FILE...
"""

import json
import os
import re
import subprocess
import sys

import jsonschema
import yaml

UNKNOWN = "zz_not_a_key"
PLUGIN_ENTRY = "#/$defs/PluginEntry"


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML reads YAML 1.1, where `off` and `yes` are booleans; protogate
    reads YAML 1.2 (only `true`/`false`), and `timeout: off` is a keyword."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


class Yaml12Dumper(yaml.SafeDumper):
    """Quotes every string that YAML 1.1 would read as something else, and
    writes booleans as true/false (the default dumper already does)."""


def key_path(parent, key):
    """protogate's YamlPath: `a.b`, `a["x.y"]` for keys beyond [A-Za-z0-9_-]."""
    if key and re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return f"{parent}.{key}" if parent else key
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{parent}["{escaped}"]'


class Walker:
    """Walks a config tree beside the schema, noting closed mappings (and
    keeping each one's dict, so a probe key can be put straight into it)."""

    def __init__(self, schema):
        self.schema = schema
        self.validator = jsonschema.Draft202012Validator(schema)
        self.closed = {}  # path -> the schema's keys
        self.mappings = {}  # path -> the mapping itself, in the walked tree
        self.in_plugin = set()  # the paths of those inside a plugin's settings

    def resolve(self, node_schema):
        while isinstance(node_schema, dict) and "$ref" in node_schema:
            ref = node_schema["$ref"]
            assert ref.startswith("#/$defs/"), ref
            node_schema = self.schema["$defs"][ref[len("#/$defs/"):]]
        return node_schema

    def fits(self, value, branch):
        return self.validator.evolve(schema={**branch, "$defs": self.schema["$defs"]}).is_valid(value)

    def walk(self, value, node_schema, path, wrapper=False, in_plugin=False):
        # A plugin list item `- name: settings` is a one-key wrapper the
        # decoder reads on its own terms (one plugin per item): not a
        # mapping of keys, so only its settings are compared.
        entry = node_schema.get("$ref") == PLUGIN_ENTRY
        wrapper = wrapper or entry
        node_schema = self.resolve(node_schema)
        for choice in ("anyOf", "oneOf"):
            if choice in node_schema:
                branches = [self.resolve(b) for b in node_schema[choice]]
                fitting = [b for b in branches if self.fits(value, b)]
                if fitting:
                    self.walk(value, fitting[0], path, wrapper, in_plugin)
                return
        if isinstance(value, dict):
            if "properties" in node_schema:
                if node_schema.get("additionalProperties") is False and not wrapper:
                    self.closed[path] = set(node_schema["properties"])
                    self.mappings[path] = value
                    if in_plugin:
                        self.in_plugin.add(path)
                for key, child in value.items():
                    if key in node_schema["properties"]:
                        # A wrapper's one value is the plugin's settings.
                        self.walk(
                            child,
                            node_schema["properties"][key],
                            key_path(path, key),
                            in_plugin=in_plugin or wrapper,
                        )
            elif isinstance(node_schema.get("additionalProperties"), dict):
                for key, child in value.items():
                    self.walk(
                        child,
                        node_schema["additionalProperties"],
                        key_path(path, key),
                        in_plugin=in_plugin,
                    )
        elif isinstance(value, list) and isinstance(node_schema.get("items"), dict):
            for index, child in enumerate(value):
                self.walk(child, node_schema["items"], f"{path}[{index}]", in_plugin=in_plugin)


ERROR = re.compile(
    r"^.*?:\d+:\d+: (?P<path>.*?)"
    + re.escape(UNKNOWN)
    + r": unknown key `"
    + re.escape(UNKNOWN)
    + r"`; (?:expected one of: (?P<keys>[^;]*)|this mapping takes no keys)"
)


def decoder_keys(protogate, path):
    """`protogate check` on `path`: {mapping path: the keys it expects}."""
    run = subprocess.run(
        [protogate, "check", "--config", path], capture_output=True, text=True, timeout=60
    )
    found = {}
    for line in run.stderr.splitlines():
        match = ERROR.match(line)
        if match:
            parent = match.group("path")
            parent = parent[:-1] if parent.endswith(".") else parent
            keys = match.group("keys")
            found[parent] = set(keys.split(", ")) if keys else set()
    return found, run.stderr


def main():
    protogate, schema_path, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    problems = []
    mappings = 0
    for name in files:
        with open(name, encoding="utf-8") as f:
            config = yaml.load(f, Loader=Yaml12Loader)
        validator = jsonschema.Draft202012Validator(schema)
        for error in validator.iter_errors(config):
            where = "/".join(str(p) for p in error.absolute_path)
            problems.append(f"{name}: {where}: {error.message}")
        walker = Walker(schema)
        walker.walk(config, schema, "")
        # Plugin settings are decoded only once the core file is clean, so
        # the core mappings and the plugins' are probed in two runs.
        core = set(walker.closed) - walker.in_plugin
        for targets in (core, walker.in_plugin):
            if not targets:
                continue
            for path in targets:
                walker.mappings[path][UNKNOWN] = 0
            directory, base = os.path.split(name)
            probe = os.path.join(directory, f".schema-check-{base}")
            with open(probe, "w", encoding="utf-8") as f:
                yaml.dump(config, f, Dumper=Yaml12Dumper, sort_keys=False)
            for path in targets:
                del walker.mappings[path][UNKNOWN]
            try:
                found, stderr = decoder_keys(protogate, probe)
            finally:
                os.remove(probe)
            for path in targets:
                keys = walker.closed[path]
                mappings += 1
                shown = path or "(the root)"
                if path not in found:
                    problems.append(f"{name}: {shown}: check did not report the unknown key\n{stderr}")
                elif found[path] != keys:
                    problems.append(
                        f"{name}: {shown}: the schema lists {sorted(keys)}, "
                        f"the decoder {sorted(found[path])}"
                    )
    if problems:
        print("\n".join(problems))
        return 1
    print(f"ok: {len(files)} files valid, {mappings} mappings with the decoder's keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
