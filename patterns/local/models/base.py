"""The base classes of the local cloud's CloudFormation models (typed properties, strict errors)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from moto.core.common_models import CloudFormationModel

from ..errors import LocalCloudError

if TYPE_CHECKING:
    pass

#: Accepted without any local effect (metadata, observability with nothing to observe locally);
#: their Ref / GetAtt shapes are in models/inert.py. (A WaitCondition is not among them: nothing
#: would ever signal it, so on AWS it times out.)


def _policy_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def _cfn_error(message: str) -> LocalCloudError:
    return LocalCloudError(message)


class TypedModel:
    """The type half of moto's CloudFormationModel protocol, from class attributes.

    ``CFN_TYPE`` is the resource type; ``NAME_PROPERTY`` the property that names the physical
    resource ("" where there is none: moto then generates no name).
    """

    CFN_TYPE: ClassVar[str] = ""
    NAME_PROPERTY: ClassVar[str] = ""

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.CFN_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY


class _LocalModel(TypedModel, CloudFormationModel):
    """Base of the models the local cloud adds: a physical id and a dict of GetAtt attributes.

    Subclasses set ``CFN_TYPE`` (and ``NAME_PROPERTY``), implement ``_create`` from the resource's
    properties and, where deleting does anything, ``_delete``; ``GONE`` lists what a delete may
    raise for a resource that is gone already (ignored).
    """

    GONE: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(self, physical_id: str, attributes: Mapping[str, Any] | None = None) -> None:
        self._physical_id = physical_id
        self.attributes = dict(attributes or {})

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name in self.attributes:
            return self.attributes[attribute_name]
        raise _cfn_error(f"{self.cloudformation_type()} has no attribute {attribute_name} locally")

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        cls.delete_from_cloudformation_json(
            original_resource.physical_resource_id,
            {"Properties": getattr(original_resource, "properties", {})},
            account_id,
            region_name,
        )
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        return cls._create(resource_name, cloudformation_json["Properties"], account_id, region_name, **kwargs)

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        with contextlib.suppress(*cls.GONE):
            cls._delete(resource_name, account_id, region_name)

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        return None
