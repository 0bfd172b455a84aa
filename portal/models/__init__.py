"""The data model of the whole mission; every table is created by an Alembic migration."""

from portal.models.agency_api import AgencyCallback, AgencyToken
from portal.models.audit import AuditEntry, AuditHead
from portal.models.base import Base, db, utcnow
from portal.models.camera import (
    Camera,
    CameraEvent,
    CameraGroup,
    CameraGroupMember,
    CameraLease,
    CameraStatus,
    LeaseRelease,
    RecordingSegment,
    Worker,
)
from portal.models.escalation import EscalationContact
from portal.models.evidence import IncidentEvidence
from portal.models.footage import DownloadLink, FootageExport, FootageRequest, LegalHold, ResidentHoldRequest
from portal.models.incident import Dispatch, Incident, IncidentEvent, OutboxMessage, RoutingRule
from portal.models.people import Agency, RecoveryCode, User
from portal.models.report import ReportBlock, ReportOrigin, ReportPhoto

__all__ = [
    "Agency", "AgencyCallback", "AgencyToken",
    "AuditEntry", "AuditHead", "Base", "Camera", "CameraEvent", "CameraGroup", "CameraGroupMember",
    "CameraLease", "CameraStatus", "Dispatch", "DownloadLink", "EscalationContact", "FootageExport",
    "FootageRequest", "Incident", "IncidentEvent", "IncidentEvidence", "LeaseRelease", "LegalHold",
    "OutboxMessage",
    "RecordingSegment", "RecoveryCode", "ReportBlock", "ReportOrigin", "ReportPhoto", "ResidentHoldRequest",
    "RoutingRule", "User", "Worker", "db", "utcnow",
]
