"""A small schema of the Kubernetes objects deploy/kubernetes/ uses: field names and types.

No schema is downloaded (the tests run offline): this is the subset of the API the manifests
touch, written from the Kubernetes API reference, with unknown fields refused so that a typo
(``readinesProbe``) or a misplaced field is an error naming its path, as kubectl's strict
field validation would report it. Types: ``str``, ``int``, ``bool``, ``intstr`` (a port name
or number), ``map`` (string to string), ``any``, ``[T]`` (a list of T), or another type's
name; a trailing ``!`` marks a required field.
"""

from __future__ import annotations

from typing import Any

KINDS: dict[tuple[str, str], str] = {
    ("apps/v1", "Deployment"): "Deployment",
    ("v1", "Service"): "Service",
    ("v1", "ConfigMap"): "ConfigMap",
    ("policy/v1", "PodDisruptionBudget"): "PodDisruptionBudget",
    ("batch/v1", "CronJob"): "CronJob",
}
"""The (apiVersion, kind) pairs the manifests may use, and the type each is checked as."""

_OBJECT = {"apiVersion": "str!", "kind": "str!", "metadata": "ObjectMeta!"}

TYPES: dict[str, dict[str, str]] = {
    "ObjectMeta": {"name": "str!", "namespace": "str", "labels": "map", "annotations": "map"},
    "TemplateMeta": {"labels": "map", "annotations": "map"},
    "LabelSelector": {"matchLabels": "map", "matchExpressions": "[any]"},
    "Deployment": {**_OBJECT, "spec": "DeploymentSpec!"},
    "DeploymentSpec": {
        "replicas": "int",
        "selector": "LabelSelector!",
        "template": "PodTemplateSpec!",
        "strategy": "DeploymentStrategy",
        "minReadySeconds": "int",
        "revisionHistoryLimit": "int",
        "progressDeadlineSeconds": "int",
    },
    "DeploymentStrategy": {"type": "str", "rollingUpdate": "RollingUpdateDeployment"},
    "RollingUpdateDeployment": {"maxUnavailable": "intstr", "maxSurge": "intstr"},
    "PodTemplateSpec": {"metadata": "TemplateMeta", "spec": "PodSpec!"},
    "PodSpec": {
        "containers": "[Container]!",
        "initContainers": "[Container]",
        "volumes": "[Volume]",
        "securityContext": "PodSecurityContext",
        "terminationGracePeriodSeconds": "int",
        "automountServiceAccountToken": "bool",
        "serviceAccountName": "str",
        "restartPolicy": "str",
        "topologySpreadConstraints": "[TopologySpreadConstraint]",
        "affinity": "any",
        "nodeSelector": "map",
        "tolerations": "[any]",
        "priorityClassName": "str",
    },
    "Container": {
        "name": "str!",
        "image": "str!",
        "imagePullPolicy": "str",
        "command": "[str]",
        "args": "[str]",
        "workingDir": "str",
        "ports": "[ContainerPort]",
        "env": "[EnvVar]",
        "readinessProbe": "Probe",
        "livenessProbe": "Probe",
        "startupProbe": "Probe",
        "lifecycle": "any",
        "resources": "ResourceRequirements",
        "securityContext": "SecurityContext",
        "volumeMounts": "[VolumeMount]",
    },
    "ContainerPort": {"name": "str", "containerPort": "int!", "protocol": "str"},
    "EnvVar": {"name": "str!", "value": "str", "valueFrom": "EnvVarSource"},
    "EnvVarSource": {
        "secretKeyRef": "KeySelector",
        "configMapKeyRef": "KeySelector",
        "fieldRef": "any",
    },
    "KeySelector": {"name": "str!", "key": "str!", "optional": "bool"},
    "Probe": {
        "httpGet": "HTTPGetAction",
        "tcpSocket": "TCPSocketAction",
        "exec": "any",
        "grpc": "any",
        "initialDelaySeconds": "int",
        "periodSeconds": "int",
        "timeoutSeconds": "int",
        "successThreshold": "int",
        "failureThreshold": "int",
        "terminationGracePeriodSeconds": "int",
    },
    "HTTPGetAction": {
        "path": "str",
        "port": "intstr!",
        "host": "str",
        "scheme": "str",
        "httpHeaders": "[any]",
    },
    "TCPSocketAction": {"port": "intstr!", "host": "str"},
    "ResourceRequirements": {"requests": "map", "limits": "map"},
    "SecurityContext": {
        "allowPrivilegeEscalation": "bool",
        "readOnlyRootFilesystem": "bool",
        "runAsNonRoot": "bool",
        "runAsUser": "int",
        "runAsGroup": "int",
        "privileged": "bool",
        "capabilities": "Capabilities",
        "seccompProfile": "SeccompProfile",
    },
    "Capabilities": {"add": "[str]", "drop": "[str]"},
    "PodSecurityContext": {
        "runAsNonRoot": "bool",
        "runAsUser": "int",
        "runAsGroup": "int",
        "fsGroup": "int",
        "supplementalGroups": "[int]",
        "seccompProfile": "SeccompProfile",
    },
    "SeccompProfile": {"type": "str!", "localhostProfile": "str"},
    "VolumeMount": {"name": "str!", "mountPath": "str!", "readOnly": "bool", "subPath": "str"},
    "Volume": {
        "name": "str!",
        "configMap": "ConfigMapVolumeSource",
        "secret": "SecretVolumeSource",
        "emptyDir": "EmptyDirVolumeSource",
    },
    "ConfigMapVolumeSource": {
        "name": "str!",
        "items": "[any]",
        "defaultMode": "int",
        "optional": "bool",
    },
    "SecretVolumeSource": {
        "secretName": "str!",
        "items": "[any]",
        "defaultMode": "int",
        "optional": "bool",
    },
    "EmptyDirVolumeSource": {"medium": "str", "sizeLimit": "str"},
    "TopologySpreadConstraint": {
        "maxSkew": "int!",
        "topologyKey": "str!",
        "whenUnsatisfiable": "str!",
        "labelSelector": "LabelSelector",
    },
    "Service": {**_OBJECT, "spec": "ServiceSpec!"},
    "ServiceSpec": {
        "selector": "map",
        "ports": "[ServicePort]!",
        "type": "str",
        "clusterIP": "str",
    },
    "ServicePort": {"name": "str", "port": "int!", "targetPort": "intstr", "protocol": "str"},
    "ConfigMap": {**_OBJECT, "data": "map"},
    "PodDisruptionBudget": {**_OBJECT, "spec": "PodDisruptionBudgetSpec!"},
    "PodDisruptionBudgetSpec": {
        "minAvailable": "intstr",
        "maxUnavailable": "intstr",
        "selector": "LabelSelector!",
    },
    "CronJob": {**_OBJECT, "spec": "CronJobSpec!"},
    "CronJobSpec": {
        "schedule": "str!",
        "timeZone": "str",
        "concurrencyPolicy": "str",
        "startingDeadlineSeconds": "int",
        "successfulJobsHistoryLimit": "int",
        "failedJobsHistoryLimit": "int",
        "suspend": "bool",
        "jobTemplate": "JobTemplateSpec!",
    },
    "JobTemplateSpec": {"metadata": "TemplateMeta", "spec": "JobSpec!"},
    "JobSpec": {
        "template": "PodTemplateSpec!",
        "backoffLimit": "int",
        "activeDeadlineSeconds": "int",
        "ttlSecondsAfterFinished": "int",
    },
}


def check_object(document: Any, source: str) -> list[str]:
    """Every problem of one manifest document, each ``source: path: what``; [] when sound."""
    if not isinstance(document, dict):
        return [
            f"{source}: expected a Kubernetes object (a mapping), got {type(document).__name__}"
        ]
    pair = (document.get("apiVersion"), document.get("kind"))
    type_name = KINDS.get(pair)  # type: ignore[arg-type]
    if type_name is None:
        known = ", ".join(f"{version} {kind}" for version, kind in KINDS)
        return [f"{source}: unknown apiVersion/kind {pair[0]} {pair[1]} (known: {known})"]
    problems: list[str] = []
    _check(document, type_name, "", source, problems)
    return problems


def _check(value: Any, type_spec: str, path: str, source: str, problems: list[str]) -> None:
    place = f"{source}: {path or '<root>'}"
    if type_spec.startswith("["):
        if not isinstance(value, list):
            problems.append(f"{place}: expected a list, got {type(value).__name__}")
            return
        for index, item in enumerate(value):
            _check(item, type_spec[1:-1], f"{path}[{index}]", source, problems)
        return
    scalar = _SCALARS.get(type_spec)
    if scalar is not None:
        if not scalar(value):
            problems.append(f"{place}: expected {type_spec}, got {value!r}")
        return
    if not isinstance(value, dict):
        problems.append(f"{place}: expected a {type_spec} (a mapping), got {value!r}")
        return
    fields = TYPES[type_spec]
    for key, item in value.items():
        spec = fields.get(key)
        if spec is None:
            known = ", ".join(sorted(fields))
            problems.append(f"{place}: unknown field {key!r} of {type_spec} (known: {known})")
            continue
        _check(item, spec.rstrip("!"), f"{path}.{key}" if path else key, source, problems)
    for key, spec in fields.items():
        if spec.endswith("!") and key not in value:
            problems.append(f"{place}: {type_spec} needs {key!r}")


_SCALARS = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "intstr": lambda v: isinstance(v, str | int) and not isinstance(v, bool),
    "map": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
    "any": lambda v: True,
}
