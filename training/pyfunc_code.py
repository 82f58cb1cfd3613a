"""MLflow *models from code* entry point: MLflow runs this file to build the pyfunc model.

Logging the model as code instead of a pickled instance keeps pickle out of the model
entirely; the arrays it scores with are loaded in ``OffersModel.load_context``.
"""

from mlflow.models import set_model

from training.pyfunc import OffersModel

set_model(OffersModel())
