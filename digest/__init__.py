"""The daily brief: selection and rendering (pure), delivery at the mail edge."""
