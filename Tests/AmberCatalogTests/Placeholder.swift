// Tests for AmberCatalog land here.
