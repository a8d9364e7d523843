"""The monthly client report (`fab report`): model, HTML, PDF and sending."""
