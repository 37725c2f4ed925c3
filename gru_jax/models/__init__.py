from ._ctrnn import CTRNNParams as CTRNNParams
from ._field import Model as Model, VectorField as VectorField
from ._gru import GRUParams as GRUParams, discrete_step as discrete_step, vector_field as vector_field
