"""Atlas error codes raised by the embedded store.

The store raises :class:`AtlasError` with one of Atlas's own error codes. The HTTP status is the code's second
field (``ATLAS-404-00-007`` is a 404), as it is for nearly every member of Atlas's ``AtlasErrorCode`` enum; the few
members whose ``httpCode`` Atlas sets otherwise are listed in :data:`HTTP_STATUS_APART_FROM_CODE`.
"""

from __future__ import annotations

from enum import Enum


class ErrorCode(Enum):
    """(code, message template) pairs mirrored from Atlas's ``AtlasErrorCode``."""

    UNKNOWN_TYPE = ("ATLAS-400-00-001", "Unknown datatype: {0}")
    CANNOT_ADD_MANDATORY_ATTRIBUTE = (
        "ATLAS-400-00-00C",
        "{0}.{1} : can not add mandatory attribute",
    )
    ATTRIBUTE_DELETION_NOT_SUPPORTED = (
        "ATLAS-400-00-00D",
        "{0}.{1} : attribute delete not supported",
    )
    SUPERTYPE_REMOVAL_NOT_SUPPORTED = ("ATLAS-400-00-00E", "{0} : can not remove supertype(s): {1}")
    CIRCULAR_REFERENCE = ("ATLAS-400-00-002", "{0}: invalid supertypes - circular reference back to self {1}")
    UNEXPECTED_TYPE = ("ATLAS-400-00-00F", "expected type {0}; found {1}")
    TYPE_MATCH_FAILED = ("ATLAS-400-00-010", "Given type {0} doesn't match {1}")
    INVALID_TYPE_DEFINITION = ("ATLAS-400-00-011", "Invalid type definition {0}")
    TYPE_NAME_INVALID_FORMAT = (
        "ATLAS-400-00-019",
        "{0}: invalid name for {1}.  Names must consist of a letter followed by a sequence of letter, number, space, "
        "or '_' characters",
    )
    ATTRIBUTE_NAME_INVALID_CHARS = (
        "ATLAS-400-00-09A",
        "{0}: invalid name. Attribute names must begin with a letter followed by a sequence of letters, numbers, "
        "or '_' characters",
    )
    ATTRIBUTE_NAME_ALREADY_EXISTS_IN_ANOTHER_PARENT_TYPE = (
        "ATLAS-400-00-09E",
        "Invalid attribute name: {0}.{1}. Attribute already exists in another parent type: {2}",
    )
    UNSUPPORTED_TYPE_NAME = (
        "ATLAS-400-00-102",
        "Unsupported {0} name. Names such as 'description','version','options','name','servicetype' are not "
        "supported",
    )
    DUPLICATE_BUSINESS_METADATA_ATTRIBUTE = (
        "ATLAS-400-00-092",
        "Duplicate business-metadata attributes: {0} not allowed within the same business-metadata: {1}",
    )
    TYPE_NAME_INVALID = ("ATLAS-400-00-014", "Type {0} with name {1} does not exist")
    INVALID_PARAMETERS = ("ATLAS-400-00-01A", "invalid parameters: {0}")
    INVALID_OBJECT_ID = ("ATLAS-400-00-021", "invalid object-id: {0}")
    UNKNOWN_ATTRIBUTE = ("ATLAS-400-00-023", "Attribute {0} not found for type {1}")
    BAD_REQUEST = ("ATLAS-400-00-029", "{0}")
    MISSING_MANDATORY_ATTRIBUTE = ("ATLAS-400-00-02B", "Mandatory field {0}.{1} has empty/null value")
    INVALID_RELATIONSHIP_END_TYPE = (
        "ATLAS-400-00-036",
        "invalid relationshipDef: {0}: end type 1: {1}, end type 2: {2}",
    )
    RELATIONSHIPDEF_END1_NAME_CHANGE = (
        "ATLAS-400-00-037",
        "Relationship definition {0} attempted to update end1 from {1} to {2}",
    )
    RELATIONSHIPDEF_END2_NAME_CHANGE = (
        "ATLAS-400-00-038",
        "Relationship definition {0} attempted to update end2 from {1} to {2}",
    )
    RELATIONSHIPDEF_INVALID_CATEGORY_UPDATE = (
        "ATLAS-400-00-039",
        "Relationship definition {0} attempted category change from {1} to {2}",
    )
    RELATIONSHIPDEF_NOT_DEFINED = (
        "ATLAS-400-00-043",
        "No relationshipDef defined between {0} and {1} on attribute: {2}",
    )
    RELATIONSHIP_INVALID_ENDTYPE = (
        "ATLAS-400-00-045",
        "invalid entity-type for relationship attribute {0}: entity-type {1} not in {2}",
    )
    INVALID_QUERY_PARAM_LENGTH = ("ATLAS-400-00-057", "Length of query param {0} exceeds the limit")
    INVALID_QUERY_LENGTH = ("ATLAS-400-00-058", "Invalid query length, update {0} to change the limit")
    INVALID_CUSTOM_ATTRIBUTE_KEY_LENGTH = (
        "ATLAS-400-00-08C",
        "Invalid key: {0} in custom attribute, key size should not be greater than 50",
    )
    INVALID_CUSTOM_ATTRIBUTE_KEY_CHARACTERS = (
        "ATLAS-400-00-08D",
        "Invalid key: {0} in custom attribute, key should only contain alphanumeric characters, '_' or '-'",
    )
    INVALID_CUSTOM_ATTRIBUTE_VALUE = (
        "ATLAS-400-00-08E",
        "Invalid value: {0} in custom attribute, value length is greater than {1}",
    )
    INVALID_LABEL_LENGTH = ("ATLAS-400-00-08F", "Invalid label: {0}, label size should not be greater than {1}")
    INVALID_LABEL_CHARACTERS = (
        "ATLAS-400-00-090",
        "Invalid label: {0}, label should contain alphanumeric characters, '_' or '-'",
    )
    INVALID_PROPAGATION_TYPE = (
        "ATLAS-400-00-091",
        "Invalid propagation {0} for relationship-type={1}. Default value is {2}",
    )
    UNKNOWN_GLOSSARY_TERM = ("ATLAS-400-00-06E", "{0}: Unknown/invalid glossary term")
    MISSING_MANDATORY_ANCHOR = ("ATLAS-400-00-072", "Mandatory anchor attribute is missing")
    INVALID_PARTIAL_UPDATE_ATTR = ("ATLAS-400-00-074", "Invalid attribute {0} for partial update of {1}")
    MISSING_TERM_ID_FOR_CATEGORIZATION = (
        "ATLAS-400-00-076",
        "Term guid cannot be empty/null when adding to a category",
    )
    INVALID_NEW_ANCHOR_GUID = ("ATLAS-400-00-077", "New Anchor guid cannot be empty/null")
    TERM_DISSOCIATION_MISSING_RELATION_GUID = (
        "ATLAS-400-00-078",
        "Missing mandatory attribute, TermAssignment relationship guid",
    )
    GLOSSARY_QUALIFIED_NAME_CANT_BE_DERIVED = (
        "ATLAS-400-00-079",
        "Attributes qualifiedName and name are missing. Failed to derive a unique name for Glossary",
    )
    GLOSSARY_TERM_QUALIFIED_NAME_CANT_BE_DERIVED = (
        "ATLAS-400-00-07A",
        "Attributes qualifiedName, name & glossary name are missing. Failed to derive a unique name for Glossary term",
    )
    GLOSSARY_CATEGORY_QUALIFIED_NAME_CANT_BE_DERIVED = (
        "ATLAS-400-00-07B",
        "Attributes qualifiedName, name & glossary name are missing. Failed to derive a unique name for Glossary "
        "category",
    )
    INVALID_TERM_RELATION_TO_SELF = (
        "ATLAS-400-00-07E",
        "Invalid Term relationship: Term cannot have a relationship with self",
    )
    INVALID_CHILD_CATEGORY_DIFFERENT_GLOSSARY = (
        "ATLAS-400-00-07F",
        "Invalid child category relationship: Child category (guid = {0}) belongs to different glossary",
    )
    INVALID_TERM_DISSOCIATION = (
        "ATLAS-400-00-080",
        "Given relationshipGuid({0}) is invalid for term (guid={1}) and entity(guid={2})",
    )
    INVALID_DISPLAY_NAME = ("ATLAS-400-00-083", "name cannot contain following special chars ('@', '.', '<', '>')")
    TERM_HAS_ENTITY_ASSOCIATION = (
        "ATLAS-400-00-084",
        "Term (guid={0}) cannot be deleted as it has been assigned to {1} entities.",
    )
    APPLICABLE_ENTITY_TYPES_DELETION_NOT_SUPPORTED = (
        "ATLAS-400-00-093",
        "Cannot remove applicableEntityTypes in Attribute Def: {0}, defined in business-metadata: {1}",
    )
    BUSINESS_METADATA_DEF_ATTRIBUTE_TYPE_INVALID = (
        "ATLAS-400-00-094",
        "{0}.{1}: invalid attribute type. Business-metadata attribute cannot be of type "
        "entity/classification/struct/business-metadata",
    )
    # uploaded files (glossary and business-metadata imports: FileUtils.readFileData)
    INVALID_FILE_TYPE = (
        "ATLAS-400-00-098",
        "The provided file type: {0} is not supported. Expected file formats are .csv and .xls.",
    )
    # this store reads .xlsx but not the binary .xls Atlas names, so the refusal of an .xls file says so
    INVALID_FILE_TYPE_XLS = (
        "ATLAS-400-00-098",
        "The provided file type: {0} is not supported: the binary Excel format (.xls) is not read here. Expected "
        "file formats are .csv and .xlsx.",
    )
    NO_DATA_FOUND = ("ATLAS-400-00-09B", "No data found in the uploaded file")
    NOT_VALID_FILE = ("ATLAS-400-00-09C", "Invalid {0} file")
    # export / import (ZipSource, AdminResource)
    IMPORT_ATTEMPTING_EMPTY_ZIP = ("ATLAS-400-00-08A", "Attempting to import empty ZIP file.")
    IMPORT_INVALID_ZIP_ENTRY = ("ATLAS-400-00-09F", "{0}: invalid zip entry. Reason: {1}")
    PURGE_REQUEST_SIZE_EXCEEDS_LIMIT = ("ATLAS-400-00-109", "purge request size {0} exceeds maximum limit {1}")
    INVALID_TOPIC_NAME = ("ATLAS-400-00-101", "Unsupported topic name : {0}")  # NotificationREST
    INVALID_SEARCH_PARAMS = (
        "ATLAS-400-00-047",
        "No search parameter was found. One of the following MUST be specified in the request; "
        "typeName, classification, termName or queryText",
    )
    # search (DiscoveryREST, SearchContext, the DSL, saved searches)
    UNKNOWN_TYPENAME = ("ATLAS-400-00-00A", "{0}: Unknown/invalid typename")
    UNKNOWN_CLASSIFICATION = ("ATLAS-400-00-046", "{0}: Unknown/invalid classification")
    INVALID_RELATIONSHIP_ATTRIBUTE = (
        "ATLAS-400-00-048",
        "Expected attribute {0} to be a relationship but found type {1}",
    )
    INVALID_RELATIONSHIP_TYPE = ("ATLAS-400-00-049", "Invalid entity type '{0}', guid '{1}' in relationship search")
    SAVED_SEARCH_CHANGE_USER = ("ATLAS-400-00-056", "saved-search {0} can not be moved from user {1} to {2}")
    INVALID_DSL_QUERY = (
        "ATLAS-400-00-059",
        "Invalid DSL query: {0} | Reason: {1}. Please refer to Atlas DSL grammar for more information",
    )
    INVALID_OPERATOR = ("ATLAS-400-00-103", "Invalid operator specified for attribute: {0}")
    BLANK_NAME_ATTRIBUTE = ("ATLAS-400-00-104", "Name Attribute can't be empty!")
    BLANK_VALUE_ATTRIBUTE = ("ATLAS-400-00-105", "Value Attribute can't be empty!")
    INVALID_RELATIONSHIP_LABEL = (
        "ATLAS-400-00-106",
        "Invalid relationship label {0}. The referenced entity type {1} could not be resolved from the type registry.",
    )
    SAVED_SEARCH_ALREADY_EXISTS = ("ATLAS-409-00-006", "search named {0} already exists for user {1}")
    CLASSIFICATION_NOT_ASSOCIATED_WITH_ENTITY = ("ATLAS-400-00-06D", "Classification {0} is not associated with entity")
    TYPE_NAME_NOT_FOUND = ("ATLAS-404-00-001", "Given typename {0} was invalid")
    TYPE_GUID_NOT_FOUND = ("ATLAS-404-00-002", "Given type guid {0} was invalid")
    NO_CLASSIFICATIONS_FOUND_FOR_ENTITY = ("ATLAS-404-00-003", "No classifications associated with entity: {0}")
    INSTANCE_GUID_NOT_FOUND = ("ATLAS-404-00-005", "Given instance guid {0} is invalid/not found")
    INSTANCE_CRUD_INVALID_PARAMS = ("ATLAS-404-00-007", "Invalid instance creation/updation parameters passed : {0}")
    CLASSIFICATION_NOT_FOUND = ("ATLAS-404-00-008", "Given classification {0} was invalid")
    INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND = (
        "ATLAS-404-00-009",
        "Instance {0} with unique attribute {1} does not exist",
    )
    REFERENCED_ENTITY_NOT_FOUND = ("ATLAS-404-00-00A", "Referenced entity {0} is not found")
    RELATIONSHIP_GUID_NOT_FOUND = ("ATLAS-404-00-00C", "Given relationship guid {0} is invalid/not found")
    RELATIONSHIP_ALREADY_DELETED = (
        "ATLAS-404-00-00F",
        "Attempting to delete a relationship which is already deleted : {0}",
    )
    INVALID_LINEAGE_ENTITY_TYPE = (
        "ATLAS-404-00-011",
        "Given instance guid {0} with type {1} is not a valid lineage entity type.",
    )
    INSTANCE_GUID_DELETED = ("ATLAS-404-00-012", "Given instance guid {0} has been deleted")
    FILE_NAME_NOT_FOUND = ("ATLAS-404-00-014", "File name should not be blank")
    # Atlas answers an unknown path from its servlet container, without a code of its own; EMPTY_RESULTS is the one
    # Atlas 404 code that says nothing more than "nothing here" (and Atlas raises it nowhere else).
    EMPTY_RESULTS = ("ATLAS-404-00-004", "No result found for {0}")
    METHOD_NOT_ALLOWED = ("ATLAS-405-00-001", "Error 405 - The request method {0} is inappropriate for the URL: {1}")
    UNAUTHORIZED_ACCESS = ("ATLAS-403-00-001", "{0} is not authorized to perform {1}")
    # Atlas's own 401 comes from Spring Security with no body; this code is ours and collides with none of Atlas's.
    NOT_AUTHENTICATED = ("ATLAS-401-00-001", "Authentication required")
    # Atlas's Jetty sets no limit on a request body (only on headers: atlas.jetty.request.buffer.size), so Atlas has
    # no code for it; this one is ours and collides with none of Atlas's.
    REQUEST_TOO_LARGE = ("ATLAS-413-00-001", "Request body exceeds the limit of {0} bytes")
    TYPE_ALREADY_EXISTS = ("ATLAS-409-00-001", "Given type {0} already exists")
    GLOSSARY_ALREADY_EXISTS = ("ATLAS-409-00-007", "Glossary with name {0} already exists")
    GLOSSARY_TERM_ALREADY_EXISTS = ("ATLAS-409-00-009", "Glossary term with qualifiedName {0} already exists")
    GLOSSARY_CATEGORY_ALREADY_EXISTS = (
        "ATLAS-409-00-00A",
        "Glossary category with qualifiedName {0} already exists",
    )
    TYPE_HAS_REFERENCES = ("ATLAS-409-00-002", "Given type {0} has references")
    RELATIONSHIP_ALREADY_EXISTS = (
        "ATLAS-409-00-004",
        "relationship {0} already exists between entities {1} and {2}",
    )
    TYPE_HAS_RELATIONSHIPS = ("ATLAS-409-00-005", "Given type {0} has associated relationship definitions: {1}")
    GLOSSARY_IMPORT_FAILED = ("ATLAS-409-00-011", "Glossary import failed")
    INTERNAL_ERROR = ("ATLAS-500-00-001", "Internal server error {0}")
    # Atlas answers it with HTTP 409 (see HTTP_STATUS_APART_FROM_CODE)
    FAILED_TO_OBTAIN_IMPORT_EXPORT_LOCK = (
        "ATLAS-500-00-006",
        "Another import or export is in progress. Please try again",
    )
    # new AtlasBaseException(message): INTERNAL_ERROR's code, the message as given
    INTERNAL_ERROR_MESSAGE = ("ATLAS-500-00-001", "{0}")
    IMPORT_NOT_FOUND = ("ATLAS-404-00-017", "Import id {0} is not found")
    IMPORT_ABORT_NOT_ALLOWED = ("ATLAS-409-00-016", "Import id {0} is currently in state {1}, cannot be aborted")
    ABORT_IMPORT_FAILED = ("ATLAS-500-00-022", "Failed to abort import with id {0}")
    PENDING_TASKS_ALREADY_IN_PROGRESS = ("ATLAS-409-00-013", "There are already {0} pending tasks in queue")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def http_status(self) -> int:
        return HTTP_STATUS_APART_FROM_CODE.get(self) or int(self.value[0].split("-")[1])


# The members whose AtlasErrorCode httpCode is not their code's second field: Atlas sends this status instead.
HTTP_STATUS_APART_FROM_CODE: dict[ErrorCode, int] = {
    ErrorCode.FAILED_TO_OBTAIN_IMPORT_EXPORT_LOCK: 409,
}


class AtlasError(Exception):
    """An Atlas-style failure: ``errorCode`` plus a formatted ``errorMessage``; ``cause``: the failure it wraps, sent as
    ``errorCause`` as AtlasBaseExceptionMapper does for a wrapped exception."""

    def __init__(self, code: ErrorCode, *params: object, cause: AtlasError | None = None) -> None:
        self.code = code
        self.params = params
        self.cause = cause
        message = code.value[1]
        for i, p in enumerate(params):
            message = message.replace("{" + str(i) + "}", str(p))
        self.message = message
        super().__init__(f"{code.code}: {message}")

    @property
    def http_status(self) -> int:
        return self.code.http_status

    def body(self) -> dict[str, str]:
        out = {"errorCode": self.code.code, "errorMessage": self.message}
        if self.cause is not None:
            out["errorCause"] = self.cause.message
        return out
