// Tests for AmberVMM land here.
