// Tests for AmberBoot land here.
