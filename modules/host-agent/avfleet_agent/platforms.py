# avfleet-agent: the selector: the host's own adapter, by the platform its config names. A host
# carries its own platform's module only (modules/host-agent/package.ts): the others are not
# there to import.
import importlib

ADAPTERS = {"gcp": "Gcp", "aws": "Aws", "metal": "Metal"}


def instance_manager(config, endpoints):
    """The CloudInstanceManager of config["platform"]."""
    platform = config["platform"]
    if platform not in ADAPTERS:
        raise SystemExit(f"avfleet-agent: platform {platform!r} is none of {', '.join(ADAPTERS)}")
    module = importlib.import_module(f"{__package__}.{platform}")
    return getattr(module, ADAPTERS[platform])(config, endpoints)
