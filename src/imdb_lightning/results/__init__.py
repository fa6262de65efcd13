"""What finished runs give: the sweep report and predictions."""
