"""MLflow *models from code* entry point of the churn-risk model (see ``training.churn_pyfunc``)."""

from mlflow.models import set_model

from training.churn_pyfunc import ChurnRiskModel

set_model(ChurnRiskModel())
