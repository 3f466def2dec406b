//! Mock Vertex AI upstream (being written).
