"""Step Functions executions on the local cloud: an ASL interpreter on the cloud's virtual clock.

moto stores the state machines; ``StepFunctionsService`` runs their executions (see service.py),
the interpreter runs the states (interpreter.py), the integrations call Lambda and the other
services (integrations.py), and the validation refuses at create time what cannot run.
"""

from .service import Execution, StepFunctionsService
from .validation import validate_definition

__all__ = ["Execution", "StepFunctionsService", "validate_definition"]
