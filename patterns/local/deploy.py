"""Deploying a synthesized CDK cloud assembly into the local cloud without the CDK CLI.

What ``cdk deploy`` does, minus the network: upload the file assets listed in
``<Stack>.assets.json`` to the bootstrap bucket (zipping asset folders on the fly), make sure the
bootstrap version parameter exists, then create or update the stack in moto's CloudFormation.
The result is a ``DeployedStack`` that maps logical ids and construct paths to physical resources.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DeployError, LocalCloudError

if TYPE_CHECKING:
    from .core import CloudCore

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION_PARAMETER = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
#: The version `cdk bootstrap` of CLI 2.1148 writes; templates require at least 6.
BOOTSTRAP_VERSION = "30"


@dataclass(frozen=True)
class DeployedResource:
    """One resource of a deployed stack."""

    stack_name: str
    logical_id: str
    resource_type: str
    physical_id: str
    path: str | None
    model: Any = field(repr=False, compare=False)

    def attribute(self, name: str) -> Any:
        """What ``Fn::GetAtt [logical_id, name]`` resolves to."""
        return self.model.get_cfn_attribute(name)


@dataclass
class DeployedStack:
    """A stack as the local cloud created it."""

    name: str
    stack_id: str
    status: str
    outputs: dict[str, str]
    template: dict[str, Any]
    resources: dict[str, DeployedResource]

    def physical_id(self, logical_id: str) -> str:
        return self.resource(logical_id).physical_id

    def resource(self, logical_id: str) -> DeployedResource:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise LocalCloudError(f"stack {self.name} has no resource {logical_id!r}") from None

    def resource_by_path(self, path: str) -> DeployedResource:
        """Find a resource by construct path (``Stack/Construct/Queue``; ``/Resource`` may be left out)."""
        wanted = path.strip("/")
        if not wanted.startswith(f"{self.name}/"):
            wanted = f"{self.name}/{wanted}"
        candidates = (wanted, f"{wanted}/Resource", f"{wanted}/Default")
        by_path = {r.path: r for r in self.resources.values() if r.path}
        for candidate in candidates:
            if candidate in by_path:
                return by_path[candidate]
        near = sorted(p for p in by_path if p.startswith(wanted))
        hint = f"; paths below it: {near[:10]}" if near else ""
        raise LocalCloudError(f"stack {self.name} has no resource at path {path!r}{hint}")

    def resources_of_type(self, resource_type: str) -> list[DeployedResource]:
        return [r for r in self.resources.values() if r.resource_type == resource_type]


@dataclass(frozen=True)
class StackArtifact:
    """A stack of a cloud assembly (manifest.json)."""

    artifact_id: str
    stack_name: str
    template_file: Path
    assets_file: Path | None
    dependencies: tuple[str, ...]
    paths: Mapping[str, str]


class Assembly:
    """Reads a synthesized cloud assembly directory (``cdk.out``)."""

    def __init__(self, outdir: str | os.PathLike[str]) -> None:
        self.outdir = Path(outdir)
        manifest_file = self.outdir / "manifest.json"
        if not manifest_file.is_file():
            raise LocalCloudError(f"{self.outdir} is not a cloud assembly (no manifest.json)")
        manifest = json.loads(manifest_file.read_text())
        artifacts: dict[str, Any] = manifest.get("artifacts", {})
        assets = {
            k: self.outdir / v["properties"]["file"]
            for k, v in artifacts.items()
            if v.get("type") == "cdk:asset-manifest"
        }
        self.stacks: dict[str, StackArtifact] = {}
        for artifact_id, artifact in artifacts.items():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            props = artifact.get("properties", {})
            deps = tuple(
                d
                for d in artifact.get("dependencies", [])
                if d in artifacts and artifacts[d].get("type") == "aws:cloudformation:stack"
            )
            asset_file = next((assets[d] for d in artifact.get("dependencies", []) if d in assets), None)
            self.stacks[artifact_id] = StackArtifact(
                artifact_id=artifact_id,
                stack_name=props.get("stackName", artifact_id),
                template_file=self.outdir / props["templateFile"],
                assets_file=asset_file,
                dependencies=deps,
                paths=self._paths(artifact),
            )

    def _paths(self, artifact: Mapping[str, Any]) -> dict[str, str]:
        metadata: dict[str, Any] = dict(artifact.get("metadata") or {})
        extra = artifact.get("additionalMetadataFile")
        if extra and (self.outdir / extra).is_file():
            metadata.update(json.loads((self.outdir / extra).read_text()))
        paths = {}
        for path, entries in metadata.items():
            for entry in entries:
                if entry.get("type") == "aws:cdk:logicalId":
                    paths[str(entry["data"])] = path.strip("/")
        return paths

    def find(self, name: str) -> StackArtifact:
        if name in self.stacks:
            return self.stacks[name]
        for artifact in self.stacks.values():
            if artifact.stack_name == name:
                return artifact
        raise LocalCloudError(f"no stack {name!r} in {self.outdir}; stacks: {sorted(self.stacks)}")

    def in_dependency_order(self, names: Iterable[str] | None = None) -> list[StackArtifact]:
        wanted = [self.find(n).artifact_id for n in names] if names else list(self.stacks)
        ordered: list[str] = []

        def visit(artifact_id: str) -> None:
            if artifact_id in ordered:
                return
            for dependency in self.stacks[artifact_id].dependencies:
                visit(dependency)
            ordered.append(artifact_id)

        for artifact_id in wanted:
            visit(artifact_id)
        return [self.stacks[a] for a in ordered]


def zip_directory(folder: Path) -> bytes:
    """A deterministic zip of a folder, as the CDK CLI builds for zip-packaged assets."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                full = Path(root) / name
                info = zipfile.ZipInfo(str(full.relative_to(folder)), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, full.read_bytes())
    return buffer.getvalue()


class Deployer:
    """Creates and updates stacks in moto's CloudFormation, in-process."""

    def __init__(self, core: CloudCore) -> None:
        self.core = core
        self._zips: dict[str, bytes] = {}

    def _substitute(self, text: str) -> str:
        return (
            text.replace("${AWS::AccountId}", self.core.account_id)
            .replace("${AWS::Region}", self.core.region)
            .replace("${AWS::Partition}", "aws")
        )

    def ensure_bootstrap(self) -> str:
        """The bootstrap bucket and version parameter `cdk bootstrap` would create."""
        from moto.s3.models import s3_backends
        from moto.ssm.models import ssm_backends

        bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{self.core.account_id}-{self.core.region}"
        with self.core.lock:
            s3 = s3_backends[self.core.account_id]["aws"]
            if bucket not in s3.buckets:
                s3.create_bucket(bucket, self.core.region)
            ssm = ssm_backends[self.core.account_id][self.core.region]
            try:
                existing = ssm.get_parameter(BOOTSTRAP_VERSION_PARAMETER)
            except Exception:  # moto raises ParameterNotFound
                existing = None
            if existing is None:
                ssm.put_parameter(
                    BOOTSTRAP_VERSION_PARAMETER, "", BOOTSTRAP_VERSION, "String", "", "", False, [], "text", None, None
                )
        return bucket

    def upload_assets(self, assets_file: Path) -> int:
        """Upload every file asset of an asset manifest; returns how many were uploaded."""
        from moto.s3.models import s3_backends

        manifest = json.loads(assets_file.read_text())
        if manifest.get("dockerImages"):
            names = ", ".join(sorted(manifest["dockerImages"]))
            raise LocalCloudError(f"container image assets cannot be deployed locally (no Docker): {names}")
        count = 0
        for asset_hash, asset in (manifest.get("files") or {}).items():
            source = asset["source"]
            if "path" not in source:
                raise LocalCloudError(f"asset {asset_hash} is built by a command, which the local cloud does not run")
            path = assets_file.parent / source["path"]
            if path.is_dir() or source.get("packaging") == "zip":
                key = f"{asset_hash}:{path}"
                if key not in self._zips:
                    self._zips[key] = zip_directory(path) if path.is_dir() else path.read_bytes()
                data = self._zips[key]
            else:
                data = path.read_bytes()
            for destination in asset["destinations"].values():
                bucket = self._substitute(destination["bucketName"])
                object_key = self._substitute(destination["objectKey"])
                with self.core.lock:
                    s3 = s3_backends[self.core.account_id]["aws"]
                    if bucket not in s3.buckets:
                        s3.create_bucket(bucket, self.core.region)
                    s3.put_object(bucket, object_key, data)
                count += 1
        return count

    def deploy_template(
        self,
        stack_name: str,
        template: Mapping[str, Any],
        *,
        parameters: Mapping[str, str] | None = None,
        paths: Mapping[str, str] | None = None,
    ) -> DeployedStack:
        from moto.cloudformation.models import cloudformation_backends

        self.ensure_bootstrap()
        body = json.dumps(template)
        params = dict(parameters or {})
        with self.core.lock:
            backend = cloudformation_backends[self.core.account_id][self.core.region]
            existing = next((s for s in backend.stacks.values() if s.name == stack_name), None)
            if existing is not None and existing.status in ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):
                backend.delete_stack(existing.stack_id)
                existing = None
            if existing is None:
                stack = backend.create_stack(name=stack_name, template=body, parameters=params)
            else:
                stack = backend.update_stack(
                    name=stack_name,
                    template=body,
                    role_arn=None,
                    parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
                    tags=None,
                )
            status = stack.status
            if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
                reason = getattr(stack, "stack_status_reason", None) or "see the stack events"
                raise DeployError(stack_name, status, reason)
            return self._describe(stack, paths or {})

    def _describe(self, stack: Any, paths: Mapping[str, str]) -> DeployedStack:
        template = stack.template_dict
        resources: dict[str, DeployedResource] = {}
        parsed = stack.resource_map._parsed_resources
        for logical_id, definition in (template.get("Resources") or {}).items():
            model = parsed.get(logical_id)
            if model is None:
                continue
            physical = getattr(model, "physical_resource_id", None)
            path = (definition.get("Metadata") or {}).get("aws:cdk:path") or paths.get(logical_id)
            resources[logical_id] = DeployedResource(
                stack_name=stack.name,
                logical_id=logical_id,
                resource_type=definition.get("Type", ""),
                physical_id=str(physical) if physical is not None else "",
                path=path,
                model=model,
            )
        outputs = {o["OutputKey"]: str(o["OutputValue"]) for o in (stack.outputs or [])}
        return DeployedStack(
            name=stack.name,
            stack_id=stack.stack_id,
            status=stack.status,
            outputs=outputs,
            template=template,
            resources=resources,
        )

    def deploy_artifact(
        self, assembly: Assembly, artifact: StackArtifact, parameters: Mapping[str, str] | None = None
    ) -> DeployedStack:
        if artifact.assets_file is not None and artifact.assets_file.is_file():
            self.ensure_bootstrap()
            self.upload_assets(artifact.assets_file)
        template = json.loads(artifact.template_file.read_text())
        return self.deploy_template(artifact.stack_name, template, parameters=parameters, paths=artifact.paths)

    def destroy(self, stack_name: str) -> None:
        from moto.cloudformation.models import cloudformation_backends

        with self.core.lock:
            backend = cloudformation_backends[self.core.account_id][self.core.region]
            backend.delete_stack(stack_name)
            refused = next((s for s in backend.stacks.values() if s.name == stack_name), None)
        if refused is not None and refused.status == "DELETE_FAILED":  # an export of it is in use
            raise DeployError(stack_name, refused.status, refused.stack_status_reason)
