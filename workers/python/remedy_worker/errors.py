"""The two non-retryable failures the training activity reports: bad data, or a model ONNX can't carry."""

from temporalio.exceptions import ApplicationError


def training_data_error(message: str) -> ApplicationError:
    """The input (training set, feature spec, labels, config) is wrong: retrying cannot help."""
    return ApplicationError(message, type="TrainingDataError", non_retryable=True)


def conversion_error(message: str) -> ApplicationError:
    """The fitted pipeline does not convert to ONNX, or the ONNX file disagrees with it."""
    return ApplicationError(message, type="ConversionError", non_retryable=True)
