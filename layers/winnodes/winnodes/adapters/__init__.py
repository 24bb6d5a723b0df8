"""The only code that imports boto3, botocore and kubernetes."""
