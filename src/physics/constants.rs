//! Physical constants in the library's units: energies in eV, lengths in nm, masses in units of
//! the free electron mass m₀, magnetic fields in tesla.

/// ħ²/(2m₀) in eV·nm²: the hopping of the 3-point stencil is `HBAR2_OVER_2M0 / (m* · h²)`.
pub const HBAR2_OVER_2M0: f64 = 0.038_099_821_2;

/// e/ħ in 1/(T·nm²): the Peierls phase of a link is `E_OVER_HBAR · ∫A·dl` with A in T·nm.
pub const E_OVER_HBAR: f64 = 1.519_267_447e-3;

/// Effective mass of GaAs conduction electrons, in m₀.
pub const GAAS_MASS: f64 = 0.067;

/// Effective mass of InAs conduction electrons, in m₀.
pub const INAS_MASS: f64 = 0.026;
